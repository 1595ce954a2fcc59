package hbone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Dialer opens HBONE streams through a pool of HTTP/2 connections.
// The zero value is not usable; TLSConfig is required. Fields must not be
// changed after the first Connect.
type Dialer struct {
	// TLSConfig returns the client config for a pool key: the source
	// workload's certificate and verification of the destination identity.
	// TLS 1.3 and ALPN h2 are enforced on top of it.
	TLSConfig func(PoolKey) (*tls.Config, error)
	// DialContext opens the TCP connection (inject SO_MARK or a netns
	// here). Defaults to a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	Limits      Limits
	Log         *slog.Logger

	initOnce sync.Once
	initErr  error
	limits   Limits
	log      *slog.Logger
	pool     pool
	wg       sync.WaitGroup // per-connection reader and keepalive goroutines
}

func (d *Dialer) init() error {
	d.initOnce.Do(func() {
		d.limits, d.initErr = d.Limits.withDefaults()
		d.log = d.Log
		if d.log == nil {
			d.log = slog.New(slog.DiscardHandler)
		}
		if d.TLSConfig == nil && d.initErr == nil {
			d.initErr = errors.New("hbone: Dialer.TLSConfig is required")
		}
		d.pool.conns = make(map[PoolKey][]*conn)
	})
	return d.initErr
}

// Connect opens a CONNECT stream and waits for the peer's response. A
// refusal returns *StatusError carrying the HTTP status. The whole call is
// bounded by ctx and by 2×HandshakeTimeout (dial + TLS, then the peer's own
// upstream dial).
func (d *Dialer) Connect(ctx context.Context, r Request) (*Stream, error) {
	if err := d.init(); err != nil {
		return nil, err
	}
	if !r.Key.DstIP.IsValid() {
		r.Key.DstIP = r.Target.Addr()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*d.limits.HandshakeTimeout)
	defer cancel()
	fields := requestFields(r.Authority, r.Header)
	var lastErr error
	// A connection may go away between being picked and the HEADERS write
	// (GOAWAY, idle release); such streams were never seen, so retry once.
	for attempt := 0; attempt < 2; attempt++ {
		c, err := d.pool.acquire(ctx, d, r.Key, r.Target)
		if err != nil {
			if lastErr = err; errors.Is(err, errRetryable) {
				continue
			}
			return nil, err
		}
		s, err := c.openStream(fields)
		if err == nil {
			return s, s.awaitResponse(ctx)
		}
		lastErr = err
		if !errors.Is(err, errRetryable) {
			break
		}
	}
	return nil, lastErr
}

var errRetryable = errors.New("hbone: connection unusable, retry")

// openStream consumes a reservation, assigns the next stream ID and sends
// HEADERS; IDs are allocated under wmu so they hit the wire in order.
func (c *conn) openStream(fields []hpack.HeaderField) (*Stream, error) {
	c.lockWrite()
	c.mu.Lock()
	c.reserved--
	if c.closed || c.goingAway || c.nextStreamID > 1<<31-1 {
		c.mu.Unlock()
		c.writeStart.Store(0)
		c.wmu.Unlock()
		return nil, fmt.Errorf("%w: %v", errRetryable, ErrConnClosed)
	}
	id := c.nextStreamID
	c.nextStreamID += 2
	s := newStream(c, id)
	c.streams[id] = s
	c.mu.Unlock()
	if err := c.unlockWrite(c.writeHeadersLocked(id, fields, false)); err != nil {
		s.connClosed(err)
		c.removeStream(s)
		return nil, err
	}
	return s, nil
}

// awaitResponse waits for the :status; on anything but 200 the stream is
// closed and the error returned.
func (s *Stream) awaitResponse(ctx context.Context) error {
	select {
	case <-s.respCh:
		return s.responseResult()
	case <-s.done:
		// A refusal is often followed at once by RST_STREAM(NO_ERROR);
		// the status that arrived first is the answer.
		select {
		case <-s.respCh:
			return s.responseResult()
		default:
			return s.doneErr
		}
	case <-ctx.Done():
		_ = s.Close()
		return fmt.Errorf("hbone: waiting for CONNECT response: %w", ctx.Err())
	}
}

func (s *Stream) responseResult() error {
	if s.status == 200 {
		return nil
	}
	_ = s.Close()
	return newStatusError(s.status)
}

// onResponseHeaders handles the server's :status (and ignores 1xx).
func (c *conn) onResponseHeaders(f *http2.MetaHeadersFrame) error {
	s := c.lookup(f.StreamID)
	if s == nil {
		if c.isIdleStream(f.StreamID) {
			return &connError{Code: http2.ErrCodeProtocol, Reason: "HEADERS on idle stream"}
		}
		return nil // a stream we already reset
	}
	s.mu.Lock()
	gotStatus := s.status != 0
	s.mu.Unlock()
	if !gotStatus {
		code, err := strconv.Atoi(f.PseudoValue("status"))
		if err != nil || code < 100 || code > 999 {
			c.resetByUs(f.StreamID, http2.ErrCodeProtocol)
			return nil
		}
		if code < 200 {
			return nil // informational; the final response follows
		}
		s.mu.Lock()
		s.status = code
		s.mu.Unlock()
		close(s.respCh)
	} else if !f.StreamEnded() {
		c.resetByUs(f.StreamID, http2.ErrCodeProtocol) // trailers must end the stream
		return nil
	}
	if f.StreamEnded() {
		s.mu.Lock()
		s.recvEnd = true
		finished := s.sentEnd
		s.mu.Unlock()
		notify(s.readable)
		if finished {
			c.removeStream(s)
		}
	}
	return nil
}

// dialConn dials, handshakes and starts a pooled client connection.
func (d *Dialer) dialConn(ctx context.Context, key PoolKey, target string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.limits.HandshakeTimeout)
	defer cancel()
	cfg, err := d.TLSConfig(key)
	if err != nil {
		return nil, fmt.Errorf("hbone: TLS config for %v: %w", key, err)
	}
	dial := d.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(ctx, "tcp", target)
	if err != nil {
		return nil, fmt.Errorf("hbone: dial %s: %w (is HBONE port 15008 reachable?)", target, err)
	}
	tc, _ := tlsClient(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("hbone: TLS handshake with %s: %w", target, err)
	}
	st := tc.ConnectionState()
	if err := checkNegotiated(st); err != nil {
		_ = raw.Close()
		return nil, err
	}
	c := newConn(tc, st, roleClient, d.limits, d.log.With("peer", target))
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetWriteDeadline(dl)
	}
	if err := c.writeInitial(); err != nil {
		_ = raw.Close()
		return nil, err
	}
	_ = raw.SetWriteDeadline(time.Time{})
	c.onClosed = d.pool.evict
	d.wg.Add(2)
	go func() { defer d.wg.Done(); c.runReader() }()
	go func() { defer d.wg.Done(); c.runKeepalive() }()
	return c, nil
}

// Close closes every pooled connection (streams fail) and waits for their
// goroutines. Connect after Close returns ErrDialerClosed.
func (d *Dialer) Close() error {
	if err := d.init(); err != nil {
		return err
	}
	for _, c := range d.pool.closeAll() {
		c.goAwayBestEffort(http2.ErrCodeNo)
		c.closeWithError(ErrDialerClosed)
	}
	d.wg.Wait()
	return nil
}
