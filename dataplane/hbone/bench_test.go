package hbone_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/hbone/hbonetest"
)

// The benchmarks compare, in one run, the ztunnel-pair shape
//
//	app → TCP → client tunnel → mTLS HBONE → server tunnel → TCP → upstream
//
// built with this package (hbone) and with stock x/net/http2 (naive),
// against the app talking to the upstream directly (raw).

// tcpTunnel accepts app connections and forwards each through open.
type tcpTunnel struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startTunnel(tb testing.TB, forward func(ctx context.Context, app *net.TCPConn)) *tcpTunnel {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &tcpTunnel{ln: ln}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.wg.Add(1)
			go func() { defer t.wg.Done(); forward(ctx, c.(*net.TCPConn)) }()
		}
	}()
	tb.Cleanup(func() { _ = ln.Close(); cancel(); t.wg.Wait() })
	return t
}

func (t *tcpTunnel) addr() string { return t.ln.Addr().String() }

// sink reads everything, then answers with one byte so the writer knows
// all bytes arrived.
func startSink(tb testing.TB) string {
	return startTunnel(tb, func(_ context.Context, c *net.TCPConn) {
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
		_, _ = c.Write([]byte{1})
	}).addr()
}

// hboneOutbound is the client tunnel: Connect + Copy per app connection.
func hboneOutbound(tb testing.TB, f *fixture, upstream string) string {
	target := netip.MustParseAddrPort(upstream)
	return startTunnel(tb, func(ctx context.Context, app *net.TCPConn) {
		r := f.request()
		r.Authority = target.String()
		s, err := f.dialer.Connect(ctx, r)
		if err != nil {
			_ = app.Close()
			return
		}
		_, _, _ = hbone.Copy(ctx, app, s)
	}).addr()
}

// naivePair builds the same shape on x/net/http2's Transport and Server,
// the way istio's pkg/hbone does, with ztunnel's window and frame sizes.
func naiveOutbound(tb testing.TB, upstream string) string {
	ca, sc, cc := testCerts(tb)
	srvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h2s := &http2.Server{MaxConcurrentStreams: 200, MaxUploadBufferPerConnection: 16 << 20,
		MaxUploadBufferPerStream: 4 << 20, MaxReadFrameSize: 1 << 20}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			w.WriteHeader(503)
			return
		}
		defer up.Close()
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 32<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 {
					_, _ = w.Write(buf[:n])
					w.(http.Flusher).Flush()
				}
				if err != nil {
					return
				}
			}
		}()
		_, _ = io.Copy(up, r.Body)
		_ = up.(*net.TCPConn).CloseWrite()
		<-done
	})
	srvCfg := hbone.EnforceTLS(ca.ServerConfig(sc))
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		for {
			c, err := srvLn.Accept()
			if err != nil {
				return
			}
			swg.Add(1)
			go func() {
				defer swg.Done()
				tc := tls.Server(c, srvCfg)
				if tc.Handshake() != nil { // ServeConn checks the negotiated version
					_ = c.Close()
					return
				}
				h2s.ServeConn(tc, &http2.ServeConnOpts{Handler: handler})
			}()
		}
	}()
	tr := &http2.Transport{TLSClientConfig: hbone.EnforceTLS(ca.ClientConfig(cc, "")),
		MaxReadFrameSize: 1 << 20}
	tb.Cleanup(func() { tr.CloseIdleConnections(); _ = srvLn.Close(); swg.Wait() })
	url := "https://" + srvLn.Addr().String()
	return startTunnel(tb, func(ctx context.Context, app *net.TCPConn) {
		defer app.Close()
		pr, pw := io.Pipe()
		req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, url, pr)
		req.Host = upstream
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(pw, app)
			_ = pw.Close()
		}()
		_, _ = io.Copy(app, resp.Body)
		_ = app.CloseWrite()
		<-done
	}).addr()
}

type benchConfig struct {
	name  string
	entry func(b *testing.B, upstream string) string // returns the address the app dials
}

func benchConfigs() []benchConfig {
	return []benchConfig{
		{"raw", func(_ *testing.B, up string) string { return up }},
		{"hbone", func(b *testing.B, up string) string {
			return hboneOutbound(b, newFixture(b, fixtureOpts{mode: hbone.AuthorityAnyIP}), up)
		}},
		{"naive", func(b *testing.B, up string) string { return naiveOutbound(b, up) }},
	}
}

func dialApp(b *testing.B, addr string) *net.TCPConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// BenchmarkRTT is a 1 KiB ping-pong over one connection; it reports p50
// and p99 per iteration, since the mean hides scheduler tails.
func BenchmarkRTT(b *testing.B) {
	for _, cfg := range benchConfigs() {
		b.Run(cfg.name, func(b *testing.B) {
			echo := hbonetest.StartEcho(b)
			app := dialApp(b, cfg.entry(b, echo.Addr().String()))
			defer app.Close()
			msg := make([]byte, 1024)
			buf := make([]byte, 1024)
			roundTrip := func() {
				if _, err := app.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(app, buf); err != nil {
					b.Fatal(err)
				}
			}
			for range 200 { // warm-up: pool, TLS, windows
				roundTrip()
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				roundTrip()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// BenchmarkThroughput pushes 256 KiB per iteration over one stream into a
// sink and waits for the sink to confirm receipt of everything.
func BenchmarkThroughput(b *testing.B) {
	const chunk = 256 << 10
	for _, cfg := range benchConfigs() {
		b.Run(cfg.name, func(b *testing.B) {
			app := dialApp(b, cfg.entry(b, startSink(b)))
			defer app.Close()
			msg := make([]byte, chunk)
			for range 8 {
				if _, err := app.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(chunk)
			b.ResetTimer()
			for range b.N {
				if _, err := app.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			_ = app.CloseWrite()
			ack := make([]byte, 1)
			if _, err := io.ReadFull(app, ack); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		})
	}
}
