package transport_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/hbone/hbonetest"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport/wptest"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// Addresses of the test mesh. Pod and client IPs are loopback addresses, so
// every socket is real and local; VIPs are never dialled (the waypoint
// resolves them through the workload API).
var (
	vip        = netip.MustParseAddr("198.19.0.10") // httpbin: 8000 http, 8001 http2, 9000 tcp
	emptyVIP   = netip.MustParseAddr("198.19.0.11") // a bound Service without endpoints
	flakyVIP   = netip.MustParseAddr("198.19.0.12") // one dead endpoint, one live
	echo2VIP   = netip.MustParseAddr("198.19.0.13") // 9000 tcp on pod B only: a TCPRoute target
	unboundVIP = netip.MustParseAddr("198.19.0.99")
	podA       = netip.MustParseAddr("127.0.0.2")
	podB       = netip.MustParseAddr("127.0.0.3")
	podDead    = netip.MustParseAddr("127.0.0.4") // in the workload API, no ztunnel answers
	clientIP   = netip.MustParseAddr("127.0.0.5")
)

type fixture struct {
	mesh      *wptest.Mesh
	wpID      identity.Identity
	clientID  identity.Identity
	state     atomic.Pointer[workloadapi.Snapshot]
	policies  atomic.Pointer[[]*policy.Policy]
	tcpRoutes atomic.Pointer[route.Table]
	up        *transport.Upstream
	wpAddr    netip.AddrPort
	client    *wptest.Client
	pods      map[netip.Addr]*wptest.Pod
	pickLast  atomic.Bool  // Intn answers n-1 instead of 0
	deadDials atomic.Int64 // connect attempts to podDead
}

func service(name string, ip netip.Addr, ports ...workloadapi.Port) *workloadapi.Service {
	return &workloadapi.Service{Name: name, Namespace: "demo", Hostname: name + ".demo.svc.cluster.local",
		VIPs: []netip.Addr{ip}, Ports: ports}
}

func pod(name string, ip netip.Addr, svcs ...*workloadapi.Service) *workloadapi.Workload {
	w := &workloadapi.Workload{UID: name, Name: name, Namespace: "demo", ServiceAccount: "httpbin",
		IPs: []netip.Addr{ip}, Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy,
		Services: map[workloadapi.ServiceKey]map[uint16]uint16{}}
	for _, s := range svcs {
		m := map[uint16]uint16{}
		for _, p := range s.Ports {
			m[p.ServicePort] = p.TargetPort
		}
		w.Services[s.Key()] = m
	}
	return w
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{mesh: wptest.NewMesh(t), pods: map[netip.Addr]*wptest.Pod{}}
	f.wpID, f.clientID = f.mesh.ID("demo", "waypoint"), f.mesh.ID("demo", "sleep")
	backend := wptest.StartBackend(t)
	echo := hbonetest.StartEcho(t)
	t.Cleanup(echo.Close)
	for _, ip := range []netip.Addr{podA, podB} {
		p := wptest.StartPod(t, f.mesh, ip, f.mesh.ID("demo", "httpbin"))
		p.Route(80, backend.Addr)
		p.Route(9000, echo.Addr().String())
		f.pods[ip] = p
	}
	httpbin := service("httpbin", vip,
		workloadapi.Port{ServicePort: 8000, TargetPort: 80, AppProtocol: workloadapi.AppProtocolHTTP11},
		workloadapi.Port{ServicePort: 8001, TargetPort: 80, AppProtocol: workloadapi.AppProtocolHTTP2},
		workloadapi.Port{ServicePort: 9000, TargetPort: 9000})
	empty := service("empty", emptyVIP, workloadapi.Port{ServicePort: 8000, TargetPort: 80, AppProtocol: workloadapi.AppProtocolHTTP11})
	echo2 := service("echo2", echo2VIP, workloadapi.Port{ServicePort: 9000, TargetPort: 9000})
	flaky := service("flaky", flakyVIP, workloadapi.Port{ServicePort: 8000, TargetPort: 80, AppProtocol: workloadapi.AppProtocolHTTP11})
	st, err := workloadapi.New([]*workloadapi.Workload{
		pod("httpbin-a", podA, httpbin), pod("httpbin-b", podB, httpbin, flaky, echo2), pod("dead", podDead, flaky),
	}, []*workloadapi.Service{httpbin, empty, flaky, echo2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.state.Store(st)
	f.policies.Store(&[]*policy.Policy{})

	wpCert := f.mesh.Cert(t, f.wpID)
	redirect := wptest.Redirect(f.pods[podA], f.pods[podB])
	dialer := &hbone.Dialer{
		TLSConfig: func(k hbone.PoolKey) (*tls.Config, error) {
			want, err := identity.Parse(k.DstIdentity)
			if err != nil {
				return nil, err
			}
			return identity.ClientConfig(f.mesh.Verifier, wpCert, []identity.Identity{want}), nil
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr() == podDead {
				f.deadDials.Add(1)
			}
			return redirect(ctx, network, addr)
		},
	}
	t.Cleanup(func() { _ = dialer.Close() })
	f.up = &transport.Upstream{State: f.state.Load, Dialer: dialer, Source: f.wpID,
		Intn: func(n int) int {
			if f.pickLast.Load() {
				return n - 1
			}
			return 0
		}}
	t.Cleanup(f.up.CloseIdleConnections)
	wp, err := waypoint.New(waypoint.Config{Normalization: pathnorm.ModeBase, Upstream: f.up,
		Policies: func(*waypoint.Exchange) []*policy.Policy { return *f.policies.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := transport.NewServer(transport.ServerConfig{
		Serves: func(dst netip.AddrPort) bool {
			a := dst.Addr()
			return a == vip || a == emptyVIP || a == flakyVIP || a == podA
		},
		Handler:    wp,
		L4Policies: func(netip.AddrPort) []*policy.Policy { return *f.policies.Load() },
		TCPRoutes:  func(netip.AddrPort) *route.Table { return f.tcpRoutes.Load() },
		Rand:       func() float64 { return 0 },
		Upstream:   f.up,
		Log:        testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.wpAddr = ln.Addr().(*net.TCPAddr).AddrPort()
	hs := &hbone.Server{Handler: srv.Handle, Authority: hbone.AuthorityAnyIP,
		Log: testLogger(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ctx, ln, f.mesh.ServerTLS(wpCert)) }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		cancel()
		<-done
	})
	f.client = wptest.NewClient(t, f.mesh, f.clientID, clientIP, f.wpAddr, f.wpID)
	return f
}

// testLogger logs at debug into the test output; benchmarks only warnings.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelDebug
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

// tWriter sends logs to the test's output (shown for failures and -v).
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (f *fixture) setPolicies(ps ...*policy.Policy) {
	for _, p := range ps {
		p.CacheKey()
	}
	f.policies.Store(&ps)
}
