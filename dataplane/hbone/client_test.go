package hbone_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

// Connect must give up on a peer that accepts TCP but never completes TLS.
func TestConnectHandshakeDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // never Accepts: the kernel completes TCP only
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ca, _, cc := testCerts(t)
	d := &hbone.Dialer{
		TLSConfig: func(hbone.PoolKey) (*tls.Config, error) { return ca.ClientConfig(cc, ""), nil },
		Limits:    hbone.Limits{HandshakeTimeout: 50 * time.Millisecond},
	}
	defer d.Close()
	_, err = d.Connect(context.Background(), hbone.Request{Target: ln.Addr().(*net.TCPAddr).AddrPort(), Authority: "127.0.0.1:80"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect err = %v, want a deadline error", err)
	}
}

// A server that completes the HTTP/2 preface but then never answers PING
// is evicted from the pool after PingTimeout; its stream fails.
func TestPingTimeoutEvicts(t *testing.T) {
	ca, sc, cc := testCerts(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a frozen HBONE server: SETTINGS, 200 to the first CONNECT, then silence
		defer wg.Done()
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		tc := tls.Server(raw, hbone.EnforceTLS(ca.ServerConfig(sc)))
		if tc.Handshake() != nil {
			return
		}
		if _, err := io.ReadFull(tc, make([]byte, len(http2.ClientPreface))); err != nil {
			return
		}
		fr := http2.NewFramer(tc, tc)
		_ = fr.WriteSettings()
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if h, ok := f.(*http2.HeadersFrame); ok {
				_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: h.StreamID, BlockFragment: []byte{0x88}, EndHeaders: true}) // :status 200
				break
			}
		}
		<-stop
	}()
	t.Cleanup(func() { close(stop); _ = ln.Close(); wg.Wait() })
	d := &hbone.Dialer{
		TLSConfig: func(hbone.PoolKey) (*tls.Config, error) { return ca.ClientConfig(cc, ""), nil },
		Limits:    hbone.Limits{PingInterval: 20 * time.Millisecond, PingTimeout: 60 * time.Millisecond},
	}
	defer d.Close()
	s, err := d.Connect(context.Background(), hbone.Request{Target: ln.Addr().(*net.TCPAddr).AddrPort(), Authority: "127.0.0.1:80"})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, hbone.ErrPingTimeout) {
		t.Fatalf("Read err = %v, want ErrPingTimeout", err)
	}
	waitFor(t, func() bool { return d.Stats().Conns == 0 })
}

// Forwarded, baggage and traceparent pass through untouched; connection-
// specific headers are never sent.
func TestHeaderPassthrough(t *testing.T) {
	got := make(chan http.Header, 1)
	f := newFixture(t, fixtureOpts{handler: func(ctx context.Context, _ *fixture, ss *hbone.ServerStream) {
		got <- ss.Header()
		_ = ss.Reject(503, "inspect only")
	}})
	r := f.request()
	fwd := hbone.ForwardedFor(netip.MustParseAddrPort("10.0.0.1:4242"), "svc.ns.svc.cluster.local")
	r.Header = http.Header{
		"Forwarded":   {fwd},
		"Baggage":     {"k8s.namespace.name=ns1"},
		"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"Connection":  {"close"},
	}
	_, _ = f.dialer.Connect(context.Background(), r)
	h := <-got
	if h.Get("Forwarded") != fwd || h.Get("Baggage") != "k8s.namespace.name=ns1" || h.Get("Traceparent") == "" {
		t.Fatalf("headers not passed through: %v", h)
	}
	if h.Get("Connection") != "" {
		t.Fatalf("connection-specific header was sent: %v", h)
	}
	els, err := hbone.ParseForwarded(h.Get("Forwarded"))
	if err != nil || len(els) != 1 || els[0].For != "10.0.0.1:4242" {
		t.Fatalf("Forwarded parse: %+v, %v", els, err)
	}
}

// Copy reports exact byte counts both ways and propagates half-close.
func TestCopyCountsAndHalfClose(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	app, tunnelSide := tcpPair(t)
	s := f.connect(t)
	type res struct {
		a, b int64
		err  error
	}
	out := make(chan res, 1)
	go func() {
		a, b, err := hbone.Copy(context.Background(), tunnelSide, s)
		out <- res{a, b, err}
	}()
	msg := make([]byte, 300000)
	go func() { _, _ = app.Write(msg); _ = app.CloseWrite() }()
	_ = app.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, app)
	if err != nil || n != int64(len(msg)) {
		t.Fatalf("app read %d, %v; want %d", n, err, len(msg))
	}
	r := <-out
	if r.err != nil || r.a != int64(len(msg)) || r.b != int64(len(msg)) {
		t.Fatalf("Copy = %+v, want %d each way", r, len(msg))
	}
	_ = app.Close()
}

func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); acc <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-acc
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// Without SNI the server picks its certificate by the connection's
// destination IP; the client verifies the identity it expected there.
func TestServerCertificateByDestinationIP(t *testing.T) {
	ca, sc, cc := testCerts(t)
	otherID := ca.SpiffeID("ns2", "other")
	other, err := ca.Issue(otherID)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("127.0.0.2 not routable here:", err)
	}
	srv := &hbone.Server{
		Handler:   func(_ context.Context, ss *hbone.ServerStream) { _ = ss.Reject(503, "cert check only") },
		Authority: hbone.AuthorityAnyIP,
	}
	cfg := ca.ServerConfigByIP(map[netip.Addr]tls.Certificate{netip.MustParseAddr("127.0.0.2"): other}, sc)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(ctx, ln, cfg) }()
	d := &hbone.Dialer{TLSConfig: func(k hbone.PoolKey) (*tls.Config, error) { return ca.ClientConfig(cc, k.DstIdentity), nil }}
	t.Cleanup(func() { _ = d.Close(); cancel(); wg.Wait() })
	target := ln.Addr().(*net.TCPAddr).AddrPort()
	for _, tt := range []struct {
		want   string
		answer bool
	}{{otherID, true}, {ca.SpiffeID("ns1", "server"), false}} {
		_, err := d.Connect(context.Background(), hbone.Request{Target: target, Authority: "127.0.0.2:80",
			Key: hbone.PoolKey{DstIdentity: tt.want}})
		var se *hbone.StatusError
		if got := errors.As(err, &se) && se.Code == 503; got != tt.answer {
			t.Fatalf("expect %s: err = %v, want server reached = %v", tt.want, err, tt.answer)
		}
	}
}
