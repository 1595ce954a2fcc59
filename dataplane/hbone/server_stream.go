package hbone

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"

	"golang.org/x/net/http2"
)

// ServerStream is a validated CONNECT awaiting the handler's decision.
// Data the client sends early is buffered (bounded by the stream window)
// and delivered only after Accept; on Reject it is discarded.
type ServerStream struct {
	s         *Stream
	authority Authority
	header    http.Header
	responded atomic.Bool
}

// Authority is the parsed :authority.
func (ss *ServerStream) Authority() Authority { return ss.authority }

// Header holds the request's regular headers (Forwarded, baggage,
// traceparent...). They are untrusted input.
func (ss *ServerStream) Header() http.Header { return ss.header }

// LocalAddr is the connection's local address (its original destination
// under TPROXY); RemoteAddr is the client's.
func (ss *ServerStream) LocalAddr() net.Addr  { return ss.s.LocalAddr() }
func (ss *ServerStream) RemoteAddr() net.Addr { return ss.s.RemoteAddr() }

// ConnectionState is the TLS state, including the peer certificates.
func (ss *ServerStream) ConnectionState() tls.ConnectionState { return ss.s.c.state }

// Accept answers 200 and returns the tunnel; early data becomes readable.
func (ss *ServerStream) Accept() (*Stream, error) {
	if !ss.responded.CompareAndSwap(false, true) {
		return nil, ErrAlreadyResponded
	}
	s := ss.s
	s.accepted.Store(true)
	if err := s.c.writeResponse(s, http.StatusOK, false); err != nil {
		return nil, s.writeErr(err)
	}
	return s, nil
}

// Reject answers status with END_STREAM; reason is logged, never sent
// (HBONE peers must not learn policy details). Buffered early data is
// dropped, and a client still sending is told to stop with
// RST_STREAM(NO_ERROR).
func (ss *ServerStream) Reject(status int, reason string) error {
	if !ss.responded.CompareAndSwap(false, true) {
		return ErrAlreadyResponded
	}
	s := ss.s
	s.c.log.Debug("hbone stream rejected", "stream", s.id, "status", status, "reason", reason,
		"authority", ss.authority.String())
	s.mu.Lock()
	s.readClosed = true
	dropped := s.recv.reset()
	streamInc := s.consumedLocked(dropped)
	s.mu.Unlock()
	s.sendCredit(streamInc, dropped)
	err := s.c.writeResponse(s, status, true)
	s.mu.Lock()
	s.sentEnd = true
	s.mu.Unlock()
	_ = s.abort(http2.ErrCodeNo)
	return err
}

// onRequestHeaders opens (or refuses) a client stream.
func (c *conn) onRequestHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return &connError{Code: http2.ErrCodeProtocol, Reason: "client opened an even stream"}
	}
	if s := c.lookup(id); s != nil {
		// Trailers: only END_STREAM matters for a tunnel.
		if !f.StreamEnded() {
			c.resetByUs(id, http2.ErrCodeProtocol)
			return nil
		}
		s.mu.Lock()
		s.recvEnd = true
		finished := s.sentEnd
		s.mu.Unlock()
		notify(s.readable)
		if finished {
			c.removeStream(s)
		}
		return nil
	}
	c.mu.Lock()
	if id <= c.maxPeerStream {
		c.mu.Unlock()
		return &connError{Code: http2.ErrCodeStreamClosed, Reason: "HEADERS on a closed stream"}
	}
	c.maxPeerStream = id
	goingAway := c.goingAway
	full := uint32(c.handlers) >= c.limits.MaxConcurrentStreams
	c.mu.Unlock()
	if goingAway || full {
		// Handlers, not protocol streams, are what an abuser can pile up
		// (rapid reset), so the cap counts running handlers.
		_ = c.writeRST(nil, id, http2.ErrCodeRefusedStream)
		return nil
	}
	v := validateConnect(f.Fields, f.Truncated, c.srv.Authority, addrOf(c.nc.LocalAddr()))
	if v.reject {
		c.log.Debug("hbone request refused on the wire", "stream", id, "status", v.status, "reason", string(v.reason))
		if v.status == 0 {
			_ = c.writeRST(nil, id, v.rst)
			return nil
		}
		_ = c.writeStatusForUnregistered(id, v.status)
		if !f.StreamEnded() {
			_ = c.writeRST(nil, id, http2.ErrCodeNo)
		}
		return nil
	}
	c.mu.Lock()
	s := newStream(c, id)
	s.recvEnd = f.StreamEnded()
	c.streams[id] = s
	c.handlers++
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(c.ctx)
	s.cancel = cancel
	ss := &ServerStream{s: s, authority: v.authority, header: v.header}
	c.wg.Add(1)
	go c.runHandler(ctx, ss)
	return nil
}

// runHandler owns one handler call: a stream left unanswered gets 503, and
// the stream is closed when the handler returns.
func (c *conn) runHandler(ctx context.Context, ss *ServerStream) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		c.handlers--
		c.mu.Unlock()
	}()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("hbone handler panicked", "stream", ss.s.id, "panic", r)
			if !ss.responded.Load() {
				_ = ss.Reject(http.StatusServiceUnavailable, "handler panicked")
			}
			_ = ss.s.abort(http2.ErrCodeInternal)
		}
	}()
	defer ss.s.cancel()
	c.srv.Handler(ctx, ss)
	if !ss.responded.Load() {
		_ = ss.Reject(http.StatusServiceUnavailable, "handler returned without a response")
	}
	_ = ss.s.Close()
}
