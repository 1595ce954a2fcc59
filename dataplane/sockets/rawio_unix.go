//go:build unix

package sockets

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// RawIO reads and writes one TCP connection like its own Read and Write
// (the netpoller parks the caller on EAGAIN; deadlines, Close and
// CloseWrite behave the same), but issues read(2) and write(2) as raw
// system calls through the connection's syscall.RawConn. A relay that is
// idle between messages then never enters the runtime's system-call path,
// which on every idle→busy transition wakes the sysmon thread (see
// rawRead). Errors have the shape of net.TCPConn's: a *net.OpError with
// Op "read" or "write" wrapping an *os.SyscallError, os.ErrDeadlineExceeded
// or net.ErrClosed; io.EOF is returned bare.
//
// Read and Write may run concurrently with each other; concurrent Reads
// (or Writes) are serialized by the connection, as for net.Conn.
//
// It deliberately does not implement io.ReaderFrom or io.WriterTo, and
// callers keep the *net.TCPConn for io.Copy between two TCP connections,
// where splice(2) is cheaper still.
type RawIO struct {
	conn *net.TCPConn
	rc   syscall.RawConn
	r    rawOp
	w    rawOp
}

// rawOp is one direction's in-flight call; the callback is bound once so
// the hot path does not allocate a closure per call.
type rawOp struct {
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err syscall.Errno
	eof bool
}

// NewRawIO binds a RawIO to c.
func NewRawIO(c *net.TCPConn) (*RawIO, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &RawIO{conn: c, rc: rc}
	r.r.fn = r.readFD
	r.w.fn = r.writeFD
	return r, nil
}

// Conn is the connection RawIO operates on.
func (r *RawIO) Conn() *net.TCPConn { return r.conn }

// Read reads up to len(p) bytes, parking on the netpoller while none are
// available.
func (r *RawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.r.p, r.r.n, r.r.err, r.r.eof = p, 0, 0, false
	perr := r.rc.Read(r.r.fn)
	n, errno, eof := r.r.n, r.r.err, r.r.eof
	r.r.p = nil
	switch {
	case perr != nil:
		return n, r.opError("read", perr)
	case errno != 0:
		return n, r.opError("read", os.NewSyscallError("read", errno))
	case eof:
		return 0, io.EOF
	}
	return n, nil
}

func (r *RawIO) readFD(fd uintptr) bool {
	for {
		n, e := rawRead(fd, r.r.p)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false // wait for readability
		case e != 0:
			r.r.err = e
		case n == 0:
			r.r.eof = true
		default:
			r.r.n = n
		}
		return true
	}
}

// Write writes all of p, parking on the netpoller whenever the socket
// buffer is full, as (*net.TCPConn).Write does.
func (r *RawIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.w.p, r.w.n, r.w.err = p, 0, 0
	perr := r.rc.Write(r.w.fn)
	n, errno := r.w.n, r.w.err
	r.w.p = nil
	switch {
	case perr != nil:
		return n, r.opError("write", perr)
	case errno != 0:
		return n, r.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

func (r *RawIO) writeFD(fd uintptr) bool {
	for r.w.n < len(r.w.p) {
		m, e := rawWrite(fd, r.w.p[r.w.n:])
		r.w.n += m
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return false // wait for writability, then continue
		case e != 0:
			r.w.err = e
			return true
		case m == 0:
			r.w.err = syscall.EIO // write(2) of a non-empty buffer made no progress
			return true
		}
	}
	return true
}

// opError gives RawConn failures (closed, deadline: Op "raw-read") and
// errnos the shape net.TCPConn's own Read and Write errors have.
func (r *RawIO) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: err}
}
