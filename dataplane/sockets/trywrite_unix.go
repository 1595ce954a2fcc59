//go:build unix

package sockets

import (
	"errors"
	"syscall"
)

// TryWrite writes as much of p to the connection as the kernel accepts
// right now, without ever parking the caller: on a full socket buffer it
// returns the short count and a nil error. A demultiplexing reader uses it
// to hand bytes straight to a TCP peer without risking head-of-line
// blocking of other streams behind one slow consumer.
//
// The caller must guarantee that no other goroutine writes to the same
// connection concurrently (byte order would interleave).
func TryWrite(rc syscall.RawConn, p []byte) (int, error) {
	n := 0
	var err error
	werr := rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case errors.Is(e, syscall.EAGAIN):
				return true // full: report the short write, never wait
			case e != nil:
				err = e
				return true
			case m <= 0:
				return true
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}
