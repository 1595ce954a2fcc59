//go:build unix

package sockets

import (
	"os"
	"syscall"
)

// TryWriter writes to a connection without ever parking the caller: on a
// full socket buffer it returns the short count and a nil error. A
// demultiplexing reader uses it to hand bytes straight to a TCP peer
// without risking head-of-line blocking of other streams behind one slow
// consumer. Reusing one TryWriter per connection keeps the hot path free of
// allocations (the RawConn callback is bound once).
//
// Not safe for concurrent use, and the caller must guarantee that no other
// goroutine writes to the same connection concurrently (bytes would
// interleave).
type TryWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err error
}

// NewTryWriter binds a TryWriter to rc (from (*net.TCPConn).SyscallConn).
func NewTryWriter(rc syscall.RawConn) *TryWriter {
	w := &TryWriter{rc: rc}
	w.fn = w.writeFD
	return w
}

// TryWrite writes as much of p as the kernel accepts right now.
func (w *TryWriter) TryWrite(p []byte) (int, error) {
	w.p, w.n, w.err = p, 0, nil
	werr := w.rc.Write(w.fn)
	n, err := w.n, w.err
	w.p = nil
	if err == nil {
		err = werr
	}
	return n, err
}

func (w *TryWriter) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
		m, e := rawWrite(fd, w.p[w.n:]) // see rawRead: no sysmon wake-up
		w.n += m
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true // full: report the short write, never wait
		case e != 0:
			w.err = os.NewSyscallError("write", e)
			return true
		case m == 0:
			return true
		}
	}
	return true
}

// TryWrite is a one-shot TryWriter.TryWrite.
func TryWrite(rc syscall.RawConn, p []byte) (int, error) {
	return NewTryWriter(rc).TryWrite(p)
}
