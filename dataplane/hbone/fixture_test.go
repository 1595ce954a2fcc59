package hbone_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/hbone/hbonetest"
)

// fixture is an HBONE server on loopback whose default handler dials the
// :authority (the echo server) and tunnels to it, plus a Dialer for it.
type fixture struct {
	ca       *hbonetest.CA
	srvID    string
	cliID    string
	srvCert  tls.Certificate
	cliCert  tls.Certificate
	srv      *hbone.Server
	addr     netip.AddrPort
	dialer   *hbone.Dialer
	echo     *hbonetest.Echo
	calls    atomic.Int32 // handler invocations
	upstream atomic.Int32 // upstream dials made by the handler
}

type fixtureOpts struct {
	limits  hbone.Limits
	handler func(ctx context.Context, f *fixture, ss *hbone.ServerStream)
	mode    hbone.AuthorityMode
}

func testLogger() *slog.Logger {
	if os.Getenv("HBONE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

var (
	caOnce   sync.Once
	sharedCA *hbonetest.CA
	srvCert  tls.Certificate
	cliCert  tls.Certificate
)

// certs are shared across tests: ECDSA key generation is the slow part.
func testCerts(t testing.TB) (*hbonetest.CA, tls.Certificate, tls.Certificate) {
	caOnce.Do(func() {
		ca, err := hbonetest.NewCA("cluster.local")
		if err != nil {
			panic(err)
		}
		sharedCA = ca
		if srvCert, err = ca.Issue(ca.SpiffeID("ns1", "server")); err != nil {
			panic(err)
		}
		if cliCert, err = ca.Issue(ca.SpiffeID("ns1", "client")); err != nil {
			panic(err)
		}
	})
	return sharedCA, srvCert, cliCert
}

// defaultHandler is a minimal ztunnel inbound: dial the authority, 503 on
// failure, 200 and copy otherwise.
func defaultHandler(ctx context.Context, f *fixture, ss *hbone.ServerStream) {
	f.upstream.Add(1)
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", ss.Authority().String())
	if err != nil {
		_ = ss.Reject(503, "upstream dial failed: "+err.Error())
		return
	}
	s, err := ss.Accept()
	if err != nil {
		_ = up.Close()
		return
	}
	_, _, _ = hbone.Copy(ctx, s, up.(*net.TCPConn))
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	ca, sc, cc := testCerts(t)
	f := &fixture{ca: ca, srvCert: sc, cliCert: cc, srvID: ca.SpiffeID("ns1", "server"), cliID: ca.SpiffeID("ns1", "client")}
	f.echo = hbonetest.StartEcho(t)
	h := o.handler
	if h == nil {
		h = defaultHandler
	}
	f.srv = &hbone.Server{
		Handler: func(ctx context.Context, ss *hbone.ServerStream) {
			f.calls.Add(1)
			h(ctx, f, ss)
		},
		Authority: o.mode,
		Limits:    o.limits,
		Log:       testLogger(),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().(*net.TCPAddr).AddrPort()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = f.srv.Serve(ctx, ln, ca.ServerConfig(sc))
	}()
	f.dialer = &hbone.Dialer{
		TLSConfig: func(k hbone.PoolKey) (*tls.Config, error) {
			return ca.ClientConfig(cc, k.DstIdentity), nil
		},
		Limits: o.limits,
		Log:    testLogger(),
	}
	t.Cleanup(func() {
		_ = f.dialer.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = f.srv.Shutdown(sctx)
		scancel()
		cancel()
		wg.Wait()
	})
	return f
}

// request builds a CONNECT to the echo server through the fixture.
func (f *fixture) request() hbone.Request {
	return hbone.Request{
		Target:    f.addr,
		Authority: f.echo.Addr().AddrPort().String(),
		Key:       hbone.PoolKey{SrcIdentity: f.cliID, DstIdentity: f.srvID},
	}
}

func (f *fixture) connect(t testing.TB) *hbone.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := f.dialer.Connect(ctx, f.request())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return s
}
