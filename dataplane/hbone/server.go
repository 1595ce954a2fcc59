package hbone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Server accepts HBONE connections and hands each valid CONNECT stream to
// Handler. Fields must not change after the first ServeConn.
type Server struct {
	// Handler decides each stream: ServerStream.Accept (200, then tunnel)
	// or Reject (401, 503, ...). It runs on its own goroutine; when it
	// returns the stream is closed, and a stream it never answered gets 503.
	Handler func(ctx context.Context, s *ServerStream)
	// Authority chooses which :authority values pass wire validation.
	Authority AuthorityMode
	Limits    Limits
	Log       *slog.Logger

	initOnce sync.Once
	initErr  error
	limits   Limits
	log      *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

func (srv *Server) init() error {
	srv.initOnce.Do(func() {
		srv.limits, srv.initErr = srv.Limits.withDefaults()
		srv.log = srv.Log
		if srv.log == nil {
			srv.log = slog.New(slog.DiscardHandler)
		}
		if srv.Handler == nil && srv.initErr == nil {
			srv.initErr = errors.New("hbone: Server.Handler is required")
		}
		srv.conns = make(map[*conn]struct{})
	})
	return srv.initErr
}

// ErrServerShutdown is returned by ServeConn after Shutdown.
var ErrServerShutdown = errors.New("hbone: server shut down")

// ServeConn serves one TLS connection until it closes; it closes tc. The
// TLS handshake, client preface and first SETTINGS must complete within
// HandshakeTimeout. The negotiated TLS version and ALPN are checked, since
// tc's config is the caller's (build it with EnforceTLS).
func (srv *Server) ServeConn(ctx context.Context, tc *tls.Conn) error {
	if err := srv.init(); err != nil {
		_ = tc.Close()
		return err
	}
	deadline := time.Now().Add(srv.limits.HandshakeTimeout)
	_ = tc.SetDeadline(deadline)
	hctx, cancel := context.WithDeadline(ctx, deadline)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		_ = tc.Close()
		return fmt.Errorf("hbone: TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	if err := checkNegotiated(st); err != nil {
		_ = tc.Close()
		return err
	}
	return srv.serveH2(ctx, tc, st, deadline)
}

// serveH2 runs HTTP/2 on an established transport until it closes; the
// preface exchange must finish by deadline. Split from ServeConn so the
// frame fuzzer can drive it without TLS.
func (srv *Server) serveH2(ctx context.Context, nc net.Conn, st tls.ConnectionState, deadline time.Time) error {
	_ = nc.SetDeadline(deadline)
	c := newConn(nc, st, roleServer, srv.limits, srv.log.With("peer", nc.RemoteAddr().String()))
	if err := srv.h2Handshake(c); err != nil {
		_ = nc.Close()
		return err
	}
	_ = nc.SetDeadline(time.Time{})
	c.srv = srv
	c.ctx, c.cancel = context.WithCancel(ctx)
	srv.mu.Lock()
	if srv.shutdown {
		srv.mu.Unlock()
		c.goAway(http2.ErrCodeNo)
		c.closeWithError(ErrServerShutdown)
		return ErrServerShutdown
	}
	srv.conns[c] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
	}()

	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.runKeepalive() }()
	stop := context.AfterFunc(ctx, func() { c.closeWithError(ctx.Err()) })
	defer stop()
	c.runReader()
	c.wg.Wait()
	if err := c.err(); err != nil && !errors.Is(err, ErrConnClosed) && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// h2Handshake reads the client preface and first SETTINGS and sends ours
// (slowloris at the preface stage is bounded by the caller's deadline).
func (srv *Server) h2Handshake(c *conn) error {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c.br, preface); err != nil {
		return fmt.Errorf("hbone: reading client preface: %w", err)
	}
	if string(preface) != http2.ClientPreface {
		return errors.New("hbone: bad client preface")
	}
	if err := c.writeInitial(); err != nil {
		return err
	}
	f, err := c.fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("hbone: reading client SETTINGS: %w", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		_ = c.writeGoAway(0, http2.ErrCodeProtocol)
		return errors.New("hbone: client's first frame is not SETTINGS")
	}
	c.sawFirst = true
	return c.onSettings(sf)
}

// Shutdown sends GOAWAY on every connection, waits for their streams to
// finish until ctx ends, then closes whatever is left. New ServeConn calls
// fail with ErrServerShutdown.
func (srv *Server) Shutdown(ctx context.Context) error {
	if err := srv.init(); err != nil {
		return err
	}
	srv.mu.Lock()
	srv.shutdown = true
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	for _, c := range conns {
		c.goAway(http2.ErrCodeNo)
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			for _, c := range conns {
				c.closeWithError(ErrServerShutdown)
			}
			return ctx.Err()
		}
	}
	return nil
}

// Serve accepts TCP connections from ln and serves each with ServeConn
// using EnforceTLS(cfg), until ctx ends or ln fails. It owns its per-
// connection goroutines and waits for them before returning.
func (srv *Server) Serve(ctx context.Context, ln net.Listener, cfg *tls.Config) error {
	if err := srv.init(); err != nil {
		return err
	}
	cfg = EnforceTLS(cfg)
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ServeConn(ctx, TLSServer(raw, cfg)); err != nil {
				srv.log.Debug("hbone connection ended", "peer", raw.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
