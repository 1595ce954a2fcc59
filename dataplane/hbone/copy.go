package hbone

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Copy buffer sizes: start at 32 KiB and grow to 256 KiB when reads keep
// filling the buffer (bulk transfers), as ztunnel's copy does.
const (
	copyBufMin = 32 << 10
	copyBufMax = 256 << 10
)

// growCopyBuf upgrades buf to the next size class after a read that filled
// it; small interactive reads keep the small buffer.
func growCopyBuf(buf []byte, lastRead int) []byte {
	if lastRead < len(buf) || len(buf) >= copyBufMax {
		return buf
	}
	putBuf(buf)
	nb := getBuf(copyBufMax)
	return nb[:cap(nb)]
}

// HalfCloser is a connection that can end one direction (TCP FIN,
// HTTP/2 END_STREAM). *net.TCPConn and *Stream implement it.
type HalfCloser interface {
	net.Conn
	CloseWrite() error
}

// Copy copies a→b and b→a until both directions finish, propagating each
// EOF as a half-close (CloseWrite) on the other side. An error in either
// direction, or ctx ending, closes both connections. It returns the byte
// counts of each direction and the first error (nil on a clean finish).
// Copy closes a and b before returning.
func Copy(ctx context.Context, a, b HalfCloser) (aToB, bToA int64, err error) {
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(e error) {
		errOnce.Do(func() { first = e })
		abortConn(a)
		abortConn(b)
	}
	stop := context.AfterFunc(ctx, func() { fail(ctx.Err()) })
	defer stop()
	// done ends one direction. A reset from the peer fails the writes into
	// its stream, but what the peer sent before the reset may still be on
	// its way out through the other direction, which sees the reset itself
	// (as EOF after a complete stream, as an error otherwise): aborting
	// both here would drop that data and turn a complete response into a
	// reset.
	done := func(dst HalfCloser, e error) {
		if e == nil {
			return
		}
		if _, ok := dst.(*Stream); ok && isPeerReset(e) {
			errOnce.Do(func() { first = e })
			return
		}
		fail(e)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var e error
		bToA, e = copyHalf(a, b)
		done(a, e)
	}()
	aToB, e := copyHalf(b, a)
	done(b, e)
	wg.Wait()
	stop()
	errOnce.Do(func() {}) // seal first: a late ctx callback can no longer write it
	_ = a.Close()
	_ = b.Close()
	return aToB, bToA, first
}

// copyHalf moves src→dst and half-closes dst on src's EOF.
func copyHalf(dst, src HalfCloser) (int64, error) {
	var n int64
	var err error
	switch s := src.(type) {
	case *Stream:
		n, err = s.WriteTo(dst)
	default:
		if d, ok := dst.(*Stream); ok {
			n, err = d.ReadFrom(src)
		} else {
			n, err = copyBuffered(dst, src)
		}
	}
	if err != nil {
		return n, err
	}
	if err := dst.CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
		return n, err
	}
	return n, nil
}

// copyBuffered is io.Copy with pooled growing buffers; *net.TCPConn pairs
// take io.Copy's splice path instead.
func copyBuffered(dst io.Writer, src io.Reader) (int64, error) {
	if _, ok := src.(*net.TCPConn); ok {
		if _, ok := dst.(*net.TCPConn); ok {
			return io.Copy(dst, src)
		}
	}
	buf := getBuf(copyBufMin)
	buf = buf[:cap(buf)]
	defer func() { putBuf(buf) }()
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
		buf = growCopyBuf(buf, n)
	}
}

// isPeerReset reports whether err is an RST_STREAM the peer sent.
func isPeerReset(err error) bool {
	var re *StreamResetError
	return errors.As(err, &re) && re.Remote
}

// abortConn unblocks pending I/O and makes the failure visible: a TCP peer
// gets RST (linger 0) rather than a FIN it could mistake for a clean end;
// a Stream peer gets RST_STREAM from Close.
func abortConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.SetDeadline(time.Unix(1, 0))
	_ = c.Close()
}
