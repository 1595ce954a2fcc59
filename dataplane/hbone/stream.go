package hbone

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// Stream is one established HBONE tunnel: a net.Conn over an HTTP/2 CONNECT
// stream, with TCP-like half-close.
//
//	          CloseWrite (END_STREAM sent)
//	open ─────────────────────────────▶ half-closed(local) ──┐
//	 │  END_STREAM received                                   │ END_STREAM
//	 └────────────────────────────────▶ half-closed(remote) ──┤ received/sent
//	                                                          ▼
//	any state ── Close / RST_STREAM / connection failure ──▶ closed
//
// A stream leaves its connection's table when both directions have ended
// or it is reset; data already received stays readable until consumed.
//
//	CloseWrite  sends END_STREAM (the peer reads EOF; we can still read).
//	CloseRead   stops delivery; later DATA is discarded but still credited,
//	            so the peer is never blocked by flow control.
//	Close       sends RST_STREAM(CANCEL) unless both directions finished.
//
// Read and Write may be called concurrently with each other; concurrent
// Reads (or Writes) are serialized only as far as net.Conn requires.
type Stream struct {
	c  *conn
	id uint32

	// Receive side, guarded by mu.
	mu         sync.Mutex
	recv       recvQueue
	recvEnd    bool  // END_STREAM received
	recvErr    error // reset or connection failure
	readClosed bool  // CloseRead/Close: discard incoming DATA
	sentEnd    bool  // END_STREAM (or RST) written
	reset      bool  // RST_STREAM sent or received
	closed     bool  // Close called
	recvWindow int64 // what the peer may still send on this stream
	recvCredit int64 // consumed, not yet returned in a WINDOW_UPDATE
	readable   chan struct{}

	// Direct delivery (see deliverLocked): while WriteTo drains into a TCP
	// connection, the connection reader writes DATA straight into it with a
	// non-blocking write, skipping a goroutine hand-off per frame.
	sink     *sockets.TryWriter
	sinkBusy bool  // a write into the sink is in progress (reader or WriteTo)
	sinkErr  error // a direct write failed
	direct   int64 // bytes delivered directly, reported by WriteTo

	// Send side. sendWindow is guarded by conn.mu; wclosed by conn.wmu.
	sendWindow int64
	wclosed    bool
	windowCh   chan struct{} // cap 1: window grew

	doneOnce sync.Once
	done     chan struct{} // closed on reset, Close or connection failure
	doneErr  error         // why done closed; set before close(done)

	// Client: the response status, delivered once on respCh.
	status int
	respCh chan struct{}

	// Server: cancels the handler's context on reset or close until the
	// handler accepts; afterwards the Stream itself reports resets, so a
	// reset surfaces as StreamResetError rather than context.Canceled.
	cancel   context.CancelFunc
	accepted atomic.Bool

	rdl, wdl deadline
}

func newStream(c *conn, id uint32) *Stream {
	return &Stream{
		c:          c,
		id:         id,
		recvWindow: int64(c.limits.StreamWindow),
		sendWindow: c.peerInitWindow, // caller holds c.mu
		readable:   make(chan struct{}, 1),
		windowCh:   make(chan struct{}, 1),
		done:       make(chan struct{}),
		respCh:     make(chan struct{}),
		rdl:        makeDeadline(),
		wdl:        makeDeadline(),
	}
}

var _ net.Conn = (*Stream)(nil)

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Read reads tunnelled bytes; io.EOF after the peer's END_STREAM.
func (s *Stream) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		if s.readClosed {
			s.mu.Unlock()
			return 0, ErrReadClosed
		}
		if s.recv.len() > 0 {
			n := s.recv.read(p)
			streamInc := s.consumedLocked(n)
			s.mu.Unlock()
			s.sendCredit(streamInc, n)
			return n, nil
		}
		if s.recvErr != nil {
			err := s.recvErr
			s.mu.Unlock()
			return 0, err
		}
		if s.recvEnd {
			s.mu.Unlock()
			return 0, io.EOF
		}
		if len(p) == 0 {
			s.mu.Unlock()
			return 0, nil
		}
		s.mu.Unlock()
		select {
		case <-s.readable:
		case <-s.rdl.wait():
			return 0, timeoutError{}
		}
	}
}

// consumedLocked accounts n consumed bytes at stream level and returns the
// stream WINDOW_UPDATE increment due now (batched to half the window).
func (s *Stream) consumedLocked(n int) uint32 {
	if s.recvEnd || s.reset {
		return 0 // the peer can send no more on this stream
	}
	s.recvCredit += int64(n)
	if s.recvCredit < int64(s.c.limits.StreamWindow)/2 {
		return 0
	}
	inc := s.recvCredit
	s.recvCredit = 0
	s.recvWindow += inc
	return uint32(inc)
}

func (s *Stream) sendCredit(streamInc uint32, consumed int) {
	connInc := s.c.returnConnCredit(int64(consumed))
	if streamInc > 0 || connInc > 0 {
		_ = s.c.writeWindowUpdates(s.id, streamInc, connInc)
	}
}

// Write sends p as DATA frames, waiting for flow-control window.
func (s *Stream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := s.reserveSend(len(p))
		if err != nil {
			return written, err
		}
		if err := s.c.writeData(s, p[:n], false); err != nil {
			return written, s.writeErr(err)
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// ReadFrom sends everything from r; Copy uses it for the TCP→HBONE
// direction so the read buffer is sized to a frame.
func (s *Stream) ReadFrom(r io.Reader) (int64, error) {
	buf := getBuf(copyBufMin)
	buf = buf[:cap(buf)]
	defer func() { putBuf(buf) }() // buf may have grown
	if tc, ok := r.(*net.TCPConn); ok {
		if rio, err := sockets.NewRawIO(tc); err == nil {
			r = rio // raw reads: no sysmon wake-up per message (sockets.RawIO)
		}
	}

	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			w, werr := s.Write(buf[:n])
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

// writeErr prefers the stream's own failure (reset, close) over the
// generic write error.
func (s *Stream) writeErr(err error) error {
	if e := s.ended(); e != nil {
		return e
	}
	return err
}

// reserveSend waits until some send window is open and takes up to want
// bytes of it (bounded by the peer's max frame size).
func (s *Stream) reserveSend(want int) (int, error) {
	c := s.c
	for {
		if err := s.ended(); err != nil {
			return 0, err
		}
		c.mu.Lock()
		if c.closed {
			err := c.closeErr
			c.mu.Unlock()
			return 0, err
		}
		n := int64(want)
		n = min(n, s.sendWindow, c.sendWindow, int64(c.peerMaxFrame))
		if n > 0 {
			s.sendWindow -= n
			c.sendWindow -= n
			c.mu.Unlock()
			return int(n), nil
		}
		c.mu.Unlock()
		select {
		case <-s.windowCh:
		case <-s.done:
			return 0, s.doneErr
		case <-s.wdl.wait():
			return 0, timeoutError{}
		}
	}
}

// ended is the error that ended the stream (a reset either way, or the
// connection's end), nil while it lives: no frame may be sent after it.
func (s *Stream) ended() error {
	select {
	case <-s.done:
		return s.doneErr
	default:
		return nil
	}
}

// CloseWrite sends END_STREAM: the peer reads EOF, we can keep reading.
func (s *Stream) CloseWrite() error {
	if err := s.ended(); err != nil {
		return err
	}
	if err := s.c.writeData(s, nil, true); err != nil {
		return s.writeErr(err)
	}
	s.mu.Lock()
	s.sentEnd = true
	finished := s.recvEnd
	s.mu.Unlock()
	if finished {
		s.c.removeStream(s)
	}
	return nil
}

// CloseRead stops delivery: buffered and future DATA is discarded but
// credited, so the peer's writes never stall on a reader that left.
func (s *Stream) CloseRead() error {
	s.mu.Lock()
	if s.readClosed {
		s.mu.Unlock()
		return nil
	}
	s.readClosed = true
	dropped := s.recv.reset()
	streamInc := s.consumedLocked(dropped)
	s.mu.Unlock()
	notify(s.readable)
	s.sendCredit(streamInc, dropped)
	return nil
}

// Close ends the stream. If either direction is unfinished the peer gets
// RST_STREAM(CANCEL), which its application sees as a reset.
func (s *Stream) Close() error {
	return s.abort(http2.ErrCodeCancel)
}

// abort closes the stream locally, resetting it with code if still live.
func (s *Stream) abort(code http2.ErrCode) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.readClosed = true
	dropped := s.recv.reset()
	needRST := !s.reset && !(s.sentEnd && s.recvEnd)
	if needRST {
		s.reset = true
	}
	s.mu.Unlock()
	s.c.creditConnNow(int64(dropped))
	if needRST {
		_ = s.c.writeRST(s, s.id, code)
	}
	s.finish(net.ErrClosed)
	s.c.removeStream(s)
	return nil
}

// finish unblocks writers and cancels the server handler context.
func (s *Stream) finish(err error) {
	s.doneOnce.Do(func() {
		s.doneErr = err
		close(s.done)
		if s.cancel != nil && !s.accepted.Load() {
			s.cancel()
		}
	})
	notify(s.readable)
}

// peerReset handles an RST_STREAM from the peer: like a TCP RST, pending
// data is dropped and both directions fail — unless the peer had already
// ended its side with END_STREAM (half-closed remote, RFC 9113 §5.1).
// Then everything it sent is here and stays readable, as with connClosed,
// and only our write side ends: NO_ERROR is §8.1's explicit "stop
// sending" after a complete response, and any other code (a server that
// closes once its linger for our END_STREAM runs out sends CANCEL) cannot
// take back data it had finished sending.
func (s *Stream) peerReset(code http2.ErrCode) {
	err := &StreamResetError{Code: code, Remote: true}
	s.mu.Lock()
	s.reset = true
	if s.recvEnd {
		s.mu.Unlock()
		s.finish(err)
		s.c.removeStream(s)
		return
	}
	if s.recvErr == nil {
		s.recvErr = err
	}
	dropped := s.recv.reset()
	s.mu.Unlock()
	s.c.creditConnNow(int64(dropped))
	s.finish(err)
	s.c.removeStream(s)
}

// connClosed fails the stream after the connection died; data already
// received before END_STREAM stays readable.
func (s *Stream) connClosed(err error) {
	s.mu.Lock()
	if !s.recvEnd && s.recvErr == nil {
		s.recvErr = err
	}
	s.mu.Unlock()
	s.finish(err)
}

func (s *Stream) LocalAddr() net.Addr  { return s.c.nc.LocalAddr() }
func (s *Stream) RemoteAddr() net.Addr { return s.c.nc.RemoteAddr() }

// ConnectionState is the TLS state of the underlying HTTP/2 connection,
// e.g. for the peer's SPIFFE identity.
func (s *Stream) ConnectionState() tls.ConnectionState { return s.c.state }

// StreamID is the HTTP/2 stream identifier (for logs).
func (s *Stream) StreamID() uint32 { return s.id }

func (s *Stream) SetDeadline(t time.Time) error {
	s.rdl.set(t)
	s.wdl.set(t)
	return nil
}
func (s *Stream) SetReadDeadline(t time.Time) error  { s.rdl.set(t); return nil }
func (s *Stream) SetWriteDeadline(t time.Time) error { s.wdl.set(t); return nil }
