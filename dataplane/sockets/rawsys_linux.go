package sockets

import (
	"syscall"
	"unsafe"
)

// rawRead and rawWrite are read(2) and write(2) without the runtime's
// entersyscall/exitsyscall. That bookkeeping wakes the runtime's sysmon
// thread whenever an idle process makes its first system call (sysmon is
// then parked on a note), which in a request/response relay costs one
// futex wake and a burst of 20 µs sysmon polls per message. These calls
// are only made on non-blocking sockets, so they return at once and never
// need the P handed off: the condition under which raw system calls are
// safe in Go.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
