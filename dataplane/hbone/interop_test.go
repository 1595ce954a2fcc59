package hbone_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	istiohbone "istio.io/istio/pkg/hbone"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

// Interop with istio.io/istio pkg/hbone, the upstream Go implementation,
// in both directions (differential guard against a bug shared by our client
// and our server).

func TestInteropIstioDialerToOurServer(t *testing.T) {
	type result struct {
		up, down int64
		err      error
	}
	results := make(chan result, 1)
	f := newFixture(t, fixtureOpts{handler: func(ctx context.Context, f *fixture, ss *hbone.ServerStream) {
		up, err := net.Dial("tcp", ss.Authority().String())
		if err != nil {
			_ = ss.Reject(503, err.Error())
			return
		}
		s, err := ss.Accept()
		if err != nil {
			_ = up.Close()
			return
		}
		a, b, err := hbone.Copy(ctx, s, up.(*net.TCPConn))
		results <- result{a, b, err}
	}})
	d := istiohbone.NewDialer(istiohbone.Config{
		ProxyAddress: f.addr.String(),
		TLS:          hbone.EnforceTLS(f.ca.ClientConfig(f.cliCert, f.srvID)),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", f.echo.Addr().String())
	if err != nil {
		t.Fatalf("istio dial through our server: %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte("istio->ours "), 10000)
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo mismatch")
	}
	// Their client can only end its side by closing (net.Pipe); that must
	// arrive as END_STREAM, propagate to the upstream as FIN, and let the
	// tunnel finish cleanly with exact byte counts.
	_ = c.Close()
	select {
	case r := <-results:
		if r.err != nil || r.up != int64(len(msg)) || r.down != int64(len(msg)) {
			t.Fatalf("server copy = %+v, want %d bytes each way and no error", r, len(msg))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server tunnel did not finish after the istio client closed")
	}
}

func TestInteropOurDialerToIstioServer(t *testing.T) {
	f := newFixture(t, fixtureOpts{}) // used for certs, echo and our Dialer
	srv := istiohbone.NewServer()
	srv.TLSConfig = hbone.EnforceTLS(f.ca.ServerConfig(f.srvCert))
	srv.Protocols.SetHTTP2(true) // istio serves h2c by default; HBONE is h2 over TLS
	srv.ReadHeaderTimeout = 5 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("istio server: %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = f.dialer.Close()
		_ = srv.Close()
		wg.Wait()
	})
	r := f.request()
	r.Target = ln.Addr().(*net.TCPAddr).AddrPort()
	r.Header = http.Header{"Baggage": {"k=v"}, "Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := f.dialer.Connect(ctx, r)
	if err != nil {
		t.Fatalf("our dial through istio server: %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if got := s.ConnectionState().NegotiatedProtocol; got != "h2" {
		t.Fatalf("ALPN = %q", got)
	}
	msg := bytes.Repeat([]byte("ours->istio "), 10000)
	go func() {
		_, _ = s.Write(msg)
		_ = s.CloseWrite() // istio half-closes the upstream, echo ends, istio ends the stream
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo mismatch: %d bytes, want %d", len(got), len(msg))
	}
}

// TestRejectsServerWithoutH2 checks the client refuses a TLS peer that
// does not negotiate ALPN h2 (no HTTP/1.1 fallback, no h2c).
func TestRejectsServerWithoutH2(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cfg := f.ca.ServerConfig(f.srvCert)
	cfg.NextProtos = []string{"http/1.1"}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	r := f.request()
	r.Target = ln.Addr().(*net.TCPAddr).AddrPort()
	_, err = f.dialer.Connect(context.Background(), r)
	if err == nil {
		t.Fatal("Connect succeeded against a server without h2")
	}
}
