package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/telemetry"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel"
)

var (
	curlID   = policy.NewIdentity("cluster.local", "clients", "curl")
	clientIP = netip.MustParseAddr("10.1.0.5")
	vip      = netip.MustParseAddr("10.96.0.10")
	podHost  = netip.MustParseAddrPort("10.1.0.9:8080")
	httpbin  = waypoint.Backend{ServiceHostname: "httpbin.apps.svc.cluster.local", ServiceNamespace: "apps", ServiceName: "httpbin", Port: 8000}
)

// directory: client sleep-7d9 (clients/curl) at 10.1.0.5, httpbin-v1-abc
// (apps/httpbin, canonical httpbin v1) at 10.1.0.9, Service httpbin VIP 10.96.0.10:8000.
func directory(t testing.TB) *workloadapi.Snapshot {
	t.Helper()
	s, err := workloadapi.New([]*workloadapi.Workload{
		{UID: "u1", Name: "sleep-7d9", Namespace: "clients", ServiceAccount: "curl", TrustDomain: "cluster.local",
			IPs: []netip.Addr{clientIP}, Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy,
			WorkloadName: "sleep", CanonicalName: "sleep", CanonicalRevision: "latest"},
		{UID: "u2", Name: "httpbin-v1-abc", Namespace: "apps", ServiceAccount: "httpbin", TrustDomain: "cluster.local",
			IPs: []netip.Addr{podHost.Addr()}, Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy,
			WorkloadName: "httpbin-v1", CanonicalName: "httpbin", CanonicalRevision: "v1"},
	}, []*workloadapi.Service{{Name: "httpbin", Namespace: "apps", Hostname: httpbin.ServiceHostname,
		VIPs: []netip.Addr{vip}, Ports: []workloadapi.Port{{ServicePort: 8000, TargetPort: 8080}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// routingTransport stands in for the waypoint's router + HBONE upstream: it
// records the routing decision on the request's Record, then sends the
// request over a real socket to backend, or to a closed port for /down.
type routingTransport struct {
	backend string
	closed  string
	rt      *http.Transport
}

func (u *routingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := waypoint.RecordFromContext(req.Context())
	if rec == nil {
		return nil, errors.New("no Record on the outbound request")
	}
	rec.SetBackend(httpbin)
	rec.SetUpstream(podHost, "")
	out := req.Clone(req.Context())
	out.URL.Host = u.backend
	if strings.HasPrefix(req.URL.Path, "/down") {
		out.URL.Host = u.closed
	}
	return u.rt.RoundTrip(out)
}

type harness struct {
	tel   *telemetry.Telemetry
	log   *logBuffer
	addr  string
	clock *stepClock
}

// newHarness serves tel.Wrap(waypoint) on a real listener; connections carry
// the HBONE peer a client ztunnel would present.
func newHarness(t *testing.T, inner func(http.Handler) http.Handler) *harness {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := closedLn.Addr().String()
	closedLn.Close()
	up := &routingTransport{backend: backend.Listener.Addr().String(), closed: closed, rt: &http.Transport{}}
	t.Cleanup(up.rt.CloseIdleConnections)

	denyAdmin := &policy.Policy{Name: "deny-admin", Namespace: "apps", Scope: policy.ScopeWorkloadSelector, Action: policy.ActionDeny,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{Paths: []policy.StringMatch{policy.Exact("/admin")}}}}}}}}
	allowButPrivate := &policy.Policy{Name: "allow-public", Namespace: "apps", Scope: policy.ScopeWorkloadSelector, Action: policy.ActionAllow,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{NotPaths: []policy.StringMatch{policy.Exact("/private")}}}}}}}}
	for _, p := range []*policy.Policy{denyAdmin, allowButPrivate} {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	var ids atomic.Int64
	wp, err := waypoint.New(waypoint.Config{Normalization: pathnorm.ModeBase, Upstream: up,
		Policies:     func(*waypoint.Exchange) []*policy.Policy { return []*policy.Policy{denyAdmin, allowButPrivate} },
		NewRequestID: func() string { return fmt.Sprintf("rid-%d", ids.Add(1)) }})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{log: &logBuffer{}, clock: &stepClock{base: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC), step: 7 * time.Millisecond}}
	snap := directory(t)
	h.tel, err = telemetry.New(telemetry.Config{
		AccessLog: slog.New(ztunnel.NewAccessLogHandler(h.log, false, func() time.Time { return h.clock.base })),
		Directory: func() telemetry.Directory { return snap },
		Now:       h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = wp
	if inner != nil {
		handler = inner(wp)
	}
	srv := httptest.NewUnstartedServer(h.tel.Wrap(handler))
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return waypoint.WithPeer(ctx, waypoint.Peer{SourceIP: clientIP, Identity: curlID, DestinationIP: vip, DestPort: 8000})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	h.addr = srv.Listener.Addr().String()
	return h
}

// roundTrip sends raw on its own connection (Connection: close) and returns
// the raw response bytes.
func (h *harness) roundTrip(t *testing.T, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readAll(t, c)
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: httpbin:8000\r\nUser-Agent: curl/8\r\nConnection: close\r\n\r\n"
}

func TestWaypointRequestsAreMeasured(t *testing.T) {
	h := newHarness(t, nil)
	post := "POST /post HTTP/1.1\r\nHost: httpbin:8000\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world"
	type want struct {
		raw, status, flags, details string
	}
	cases := []want{
		{get("/get"), "200", "-", "via_upstream"},
		{post, "200", "-", "via_upstream"},
		{get("/admin"), "403", "-", "rbac_access_denied_matched_policy[ns[apps]-policy[deny-admin]]"},
		{get("/down"), "503", "UF", "upstream_reset_before_response_started{connection_failure}"},
		{get("/private"), "403", "-", "rbac_access_denied_matched_policy[none]"},
	}
	responses := make([]string, len(cases))
	for i, c := range cases {
		responses[i] = h.roundTrip(t, c.raw)
		if !strings.HasPrefix(responses[i], "HTTP/1.1 "+c.status+" ") {
			t.Fatalf("%q answered %q", strings.SplitN(c.raw, "\r\n", 2)[0], responses[i])
		}
	}
	samples := scrape(t, h.tel.Registry())
	common := map[string]string{"reporter": "waypoint", "source_workload": "sleep", "source_canonical_service": "sleep",
		"source_canonical_revision": "latest", "source_workload_namespace": "clients",
		"source_principal": "spiffe://cluster.local/ns/clients/sa/curl", "source_app": "sleep", "source_version": "latest",
		"source_cluster": "unknown", "destination_service": "httpbin.apps.svc.cluster.local",
		"destination_service_namespace": "apps", "destination_service_name": "httpbin",
		"request_protocol": "http", "grpc_response_status": "", "connection_security_policy": "mutual_tls"}
	routedDst := map[string]string{"destination_workload": "httpbin-v1", "destination_canonical_service": "httpbin",
		"destination_canonical_revision": "v1", "destination_workload_namespace": "apps",
		"destination_principal": "spiffe://cluster.local/ns/apps/sa/httpbin", "destination_app": "httpbin",
		"destination_version": "v1", "destination_cluster": "unknown"}
	deniedDst := map[string]string{"destination_workload": "unknown", "destination_principal": "unknown"}
	labels := func(code, flags string, dst map[string]string) map[string]string {
		l := map[string]string{"response_code": code, "response_flags": flags}
		for _, m := range []map[string]string{common, dst} {
			for k, v := range m {
				l[k] = v
			}
		}
		return l
	}
	ok, denied, failed := labels("200", "-", routedDst), labels("403", "-", deniedDst), labels("503", "UF", routedDst)
	// The router may retry the failed connection (Istio's default retry
	// policy), which adds URX: match the 503 series by the other labels.
	delete(failed, "response_flags")
	for _, c := range []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"istio_requests_total", ok, 2},
		{"istio_requests_total", denied, 2},
		{"istio_requests_total", failed, 1},
		// Every interval is one clock step: 7ms.
		{"istio_request_duration_milliseconds_count", ok, 2},
		{"istio_request_duration_milliseconds_sum", ok, 14},
		{"istio_request_duration_milliseconds_bucket", withLE(denied, "5"), 0},
		{"istio_request_duration_milliseconds_bucket", withLE(denied, "10"), 2},
		// Request bytes are exactly what the client wrote (HTTP/1.1 wire form).
		{"istio_request_bytes_sum", ok, float64(len(cases[0].raw) + len(post))},
		{"istio_request_bytes_sum", denied, float64(len(cases[2].raw) + len(cases[4].raw))},
		{"istio_response_bytes_count", failed, 1},
	} {
		if got := find(t, samples, c.metric, c.labels); got != c.want {
			t.Errorf("%s{response_code=%s} = %v, want %v", c.metric, c.labels["response_code"], got, c.want)
		}
	}
	if flags := findSample(t, samples, "istio_requests_total", failed).labels["response_flags"]; flags != "UF" && flags != "UF,URX" {
		t.Errorf("503 response_flags = %q, want UF or UF,URX", flags)
	}
	// Response bytes: at least status line + body, at most the raw response
	// (net/http adds Date/Connection headers the handler never saw).
	sent := find(t, samples, "istio_response_bytes_sum", denied)
	body := "RBAC: access denied"
	if min, max := float64(2*(len("HTTP/1.1 403 Forbidden\r\n\r\n")+len(body))), float64(len(responses[2])+len(responses[4])); sent < min || sent > max {
		t.Errorf("403 response bytes %v outside [%v, %v]", sent, min, max)
	}
	if !strings.HasSuffix(responses[2], body) {
		t.Errorf("403 body: %q", responses[2])
	}

	line := h.log.line(t, `path="/admin"`)
	assertContains(t, line, "\tinfo\taccess\trequest complete\t", "src.addr=10.1.0.5 ", `src.workload="sleep-7d9"`,
		`src.namespace="clients"`, `src.identity="spiffe://cluster.local/ns/clients/sa/curl"`, "dst.addr=10.96.0.10:8000",
		`dst.service="httpbin.apps.svc.cluster.local"`, `method="GET"`, `protocol="HTTP/1.1"`, "response_code=403",
		`response_flags="-"`, `response_code_details="rbac_access_denied_matched_policy[ns[apps]-policy[deny-admin]]"`,
		fmt.Sprintf("bytes_received=%d", len(cases[2].raw)), `duration="7ms"`, `request_id="rid-3"`, `authority="httpbin:8000"`)
	if strings.Contains(line, "upstream_host") || strings.Contains(line, "dst.workload") {
		t.Errorf("denied request names an upstream:\n%s", line)
	}
	line = h.log.line(t, `path="/get"`)
	assertContains(t, line, "\tinfo\taccess\t", "dst.addr=10.1.0.9:15008", "dst.hbone_addr=10.1.0.9:8080",
		`dst.workload="httpbin-v1-abc"`, `dst.identity="spiffe://cluster.local/ns/apps/sa/httpbin"`,
		`response_code_details="via_upstream"`, "upstream_host=10.1.0.9:8080", `request_id="rid-1"`)
	line = h.log.line(t, `path="/down"`)
	assertContains(t, line, "\terror\taccess\trequest complete\t", "response_code=503", `response_flags="UF`,
		`response_code_details="upstream_reset_before_response_started{connection_failure}"`)
	for i, c := range cases {
		l := h.log.line(t, fmt.Sprintf(`request_id="rid-%d"`, i+1))
		assertContains(t, l, "response_code="+c.status, `response_flags="`+c.flags, `response_code_details="`+c.details+`"`)
	}
}

func withLE(l map[string]string, le string) map[string]string {
	out := map[string]string{"le": le}
	for k, v := range l {
		out[k] = v
	}
	return out
}
