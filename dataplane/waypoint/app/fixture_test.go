package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	wire "istio.io/istio/pkg/workloadapi"

	"github.com/ambientlab/ambientlab/dataplane/hbone/hbonetest"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/app"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn/jwttest"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport/wptest"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

// The simulated cluster: loopback addresses stand in for pod IPs (every
// socket is real); VIPs are only names in the workload API.
var (
	httpbinVIP = netip.MustParseAddr("198.19.0.10") // 8000 http, 8001 http2, 9000 tcp
	keysVIP    = netip.MustParseAddr("198.19.0.20") // 8080 http: the JWKS server
	podHTTPBin = netip.MustParseAddr("127.0.0.2")
	podKeys    = netip.MustParseAddr("127.0.0.3")
	clientIP   = netip.MustParseAddr("127.0.0.5")
)

// lockedBuffer collects the access log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cluster is one waypoint process (app.Run) with a fake istiod (CA + ADS),
// fake destination ztunnels and a client ztunnel.
type cluster struct {
	mesh      *wptest.Mesh
	ads       *wptest.ADS
	issuer    *jwttest.Issuer
	pods      map[netip.Addr]*wptest.Pod
	addrs     map[string]string // listener name → address
	accessLog *lockedBuffer
	client    *wptest.Client
	stop      func()
	readyCh   chan struct{}
	backend   *wptest.Backend
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{mesh: wptest.NewMesh(t), issuer: jwttest.NewIssuer("https://issuer.example", "k1"),
		pods: map[netip.Addr]*wptest.Pod{}, addrs: map[string]string{}, accessLog: &lockedBuffer{}}
	ca := wptest.StartCA(t, c.mesh)
	c.ads = wptest.StartADS(t)
	backend := wptest.StartBackend(t)
	echo := hbonetest.StartEcho(t)
	t.Cleanup(echo.Close)
	keys := startJWKS(t, c.issuer.JWKS())
	c.pods[podHTTPBin] = wptest.StartPod(t, c.mesh, podHTTPBin, c.mesh.ID("demo", "httpbin"))
	c.pods[podHTTPBin].Route(80, backend.Addr)
	c.pods[podHTTPBin].Route(9000, echo.Addr().String())
	c.pods[podKeys] = wptest.StartPod(t, c.mesh, podKeys, c.mesh.ID("demo", "keys"))
	c.pods[podKeys].Route(8080, keys)

	dir := t.TempDir()
	c.mesh.WriteBootstrap(t, dir, c.mesh.ID("demo", "waypoint"))
	names := map[string]string{"127.0.0.10": "hbone", "127.0.0.11": "admin", "127.0.0.12": "metrics", "127.0.0.13": "readiness"}
	var mu sync.Mutex
	cfg := app.DefaultConfig()
	cfg.Namespace, cfg.Gateway, cfg.Pod = "demo", "waypoint", "waypoint-0"
	cfg.XDSAddress, cfg.CAAddress, cfg.BootstrapDir = c.ads.Addr, ca.Addr, dir
	cfg.HBONEAddr, cfg.AdminAddr, cfg.MetricsAddr, cfg.ReadinessAddr = "127.0.0.10:0", "127.0.0.11:0", "127.0.0.12:0", "127.0.0.13:0"
	cfg.DrainGrace = 2 * time.Second
	cfg.AccessLog = c.accessLog
	cfg.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Listen = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err == nil {
			host, _, _ := net.SplitHostPort(addr)
			mu.Lock()
			c.addrs[names[host]] = ln.Addr().String()
			mu.Unlock()
		}
		return ln, err
	}
	cfg.DialHBONE = wptest.Redirect(c.pods[podHTTPBin], c.pods[podKeys])
	ready := make(chan struct{})
	cfg.OnReady = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg) }()
	c.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("app.Run did not return within 10s of cancellation")
		}
	}
	t.Cleanup(func() { c.stop() })
	// The listeners are open once the CA issued the waypoint's certificate
	// path far enough for Run to get past bootstrap; the ADS subscription
	// proves Run is serving.
	c.ads.Subscription(t, xds.TypeAddress)
	mu.Lock()
	wpAddr := netip.MustParseAddrPort(c.addrs["hbone"])
	mu.Unlock()
	c.client = wptest.NewClient(t, c.mesh, c.mesh.ID("demo", "sleep"), clientIP, wpAddr, c.mesh.ID("demo", "waypoint"))
	c.readyCh = ready
	c.backend = backend
	return c
}

// testWriter sends the waypoint's logs to the test output.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startJWKS serves the key set at /jwks.json.
func startJWKS(t *testing.T, jwks string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jwks.json" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, jwks)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

func (c *cluster) addr(name string) string { return c.addrs[name] }

// workloadAPI is the Address resources of the simulated cluster.
func workloadAPI(t *testing.T) map[string]*anypb.Any {
	t.Helper()
	svc := func(name string, vip netip.Addr, ports ...*wire.Port) *wire.Address {
		return &wire.Address{Type: &wire.Address_Service{Service: &wire.Service{Name: name, Namespace: "demo",
			Hostname: name + ".demo.svc.cluster.local", Addresses: []*wire.NetworkAddress{{Address: vip.AsSlice()}}, Ports: ports}}}
	}
	pod := func(name, sa string, ip netip.Addr, svcHost string, ports ...*wire.Port) *wire.Address {
		return &wire.Address{Type: &wire.Address_Workload{Workload: &wire.Workload{Uid: "demo/" + name, Name: name, Namespace: "demo",
			ServiceAccount: sa, Addresses: [][]byte{ip.AsSlice()}, TunnelProtocol: wire.TunnelProtocol_HBONE, TrustDomain: "cluster.local",
			Status: wire.WorkloadStatus_HEALTHY, Services: map[string]*wire.PortList{"demo/" + svcHost: {Ports: ports}}}}}
	}
	httpPorts := []*wire.Port{{ServicePort: 8000, TargetPort: 80, AppProtocol: wire.AppProtocol_HTTP11},
		{ServicePort: 8001, TargetPort: 80, AppProtocol: wire.AppProtocol_HTTP2}, {ServicePort: 9000, TargetPort: 9000}}
	keyPorts := []*wire.Port{{ServicePort: 8080, TargetPort: 8080, AppProtocol: wire.AppProtocol_HTTP11}}
	out := map[string]*anypb.Any{}
	for _, a := range []*wire.Address{
		svc("httpbin", httpbinVIP, httpPorts...), svc("keys", keysVIP, keyPorts...),
		pod("httpbin-0", "httpbin", podHTTPBin, "httpbin.demo.svc.cluster.local", httpPorts...),
		pod("keys-0", "keys", podKeys, "keys.demo.svc.cluster.local", keyPorts...),
	} {
		r, err := anypb.New(a)
		if err != nil {
			t.Fatal(err)
		}
		out[xds.AddressName(a)] = r
	}
	return out
}

// configResource wraps raw snapshot JSON as istiod sends it.
func configResource(t *testing.T, raw []byte) map[string]*anypb.Any {
	t.Helper()
	v, err := proto.Marshal(wrapperspb.Bytes(raw))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*anypb.Any{"demo/waypoint": {TypeUrl: config.TypeURL, Value: v}}
}

func mustMarshal(t *testing.T, s *config.Snapshot) []byte {
	t.Helper()
	b, err := config.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpGet fetches url from a listener of the waypoint (admin, metrics, readiness).
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.CloseIdleConnections()
	return resp.StatusCode, strings.TrimSpace(string(b))
}
