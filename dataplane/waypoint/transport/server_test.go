package transport_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport/wptest"
)

func denyPath(prefix string) *policy.Policy {
	return &policy.Policy{Name: "deny-admin", Namespace: "demo", Scope: policy.ScopeNamespace, Action: policy.ActionDeny,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{Paths: []policy.StringMatch{policy.Prefix(prefix)}}}}}}}}
}

func allowFrom(m policy.Match) *policy.Policy {
	return &policy.Policy{Name: "allow", Namespace: "demo", Scope: policy.ScopeNamespace, Action: policy.ActionAllow,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{m}}}}}}
}

type result struct {
	status int
	header http.Header
	body   string
	echo   wptest.Echo
}

func get(t *testing.T, c *http.Client, url string, hdr http.Header) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r.echo); err != nil {
			t.Fatalf("GET %s: backend answer %q: %v", url, b, err)
		}
	}
	return r
}

// The whole L7 path with real TLS: client ztunnel → waypoint (authz by
// path) → HBONE as the waypoint → destination ztunnel → backend.
func TestHTTPThroughWaypoint(t *testing.T) {
	f := newFixture(t)
	f.setPolicies(denyPath("/admin"))
	for _, h2 := range []bool{false, true} {
		c := f.client.HTTP("198.19.0.10:8000", h2)
		defer c.CloseIdleConnections()
		ok := get(t, c, "http://httpbin.demo:8000/get?x=1", nil)
		if ok.status != 200 || ok.echo.URI != "/get?x=1" || ok.echo.Host != "httpbin.demo:8000" {
			t.Fatalf("h2=%v allowed request: %d %+v", h2, ok.status, ok.echo)
		}
		if id := ok.header.Get("X-Request-Id"); id == "" || ok.echo.Header.Get("X-Request-Id") != id {
			t.Errorf("h2=%v x-request-id: response %q, upstream %q", h2, id, ok.echo.Header.Get("X-Request-Id"))
		}
		if xfcc := ok.echo.Header.Get("X-Forwarded-Client-Cert"); xfcc != "URI="+f.clientID.String() {
			t.Errorf("h2=%v upstream XFCC %q: the client identity must come from the mTLS peer", h2, xfcc)
		}
		if xff := ok.echo.Header.Get("X-Forwarded-For"); xff != clientIP.String() {
			t.Errorf("h2=%v upstream XFF %q, want the client pod IP %s", h2, xff, clientIP)
		}
		if ua, has := ok.echo.Header["User-Agent"]; has && ua[0] != "Go-http-client/1.1" && ua[0] != "Go-http-client/2.0" {
			t.Errorf("h2=%v upstream User-Agent %q: the waypoint must not invent one", h2, ua)
		}
		denied := get(t, c, "http://httpbin.demo:8000/admin/x", nil)
		if denied.status != 403 || denied.body != "RBAC: access denied" || denied.header.Get("X-Request-Id") == "" {
			t.Errorf("h2=%v denied request: %d %q %v", h2, denied.status, denied.body, denied.header)
		}
	}
	// The destination saw the waypoint's identity and pod IP:target port.
	seen := append(f.pods[podA].Seen(), f.pods[podB].Seen()...)
	if len(seen) == 0 {
		t.Fatal("no CONNECT reached a destination ztunnel")
	}
	for _, s := range seen {
		if s.Peer != f.wpID || (s.Authority != "127.0.0.2:80" && s.Authority != "127.0.0.3:80") {
			t.Errorf("destination saw %+v, want peer %s and authority <pod IP>:80", s, f.wpID)
		}
	}
}

// An HTTP2 Service port is spoken to the backend as h2c; an HTTP/1.1 port
// as HTTP/1.1, whatever the client spoke.
func TestUpstreamProtocolFollowsServicePort(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		port string
		h2   bool
		want string
	}{
		{"8000", false, "HTTP/1.1"}, {"8000", true, "HTTP/1.1"},
		{"8001", false, "HTTP/2.0"}, {"8001", true, "HTTP/2.0"},
	} {
		t.Logf("port %s client h2=%v", tc.port, tc.h2)
		c := f.client.HTTP("198.19.0.10:"+tc.port, tc.h2)
		r := get(t, c, "http://httpbin/proto", nil)
		c.CloseIdleConnections()
		if r.status != 200 || r.echo.Proto != tc.want {
			t.Errorf("port %s client h2=%v: %d, backend got %q, want %q", tc.port, tc.h2, r.status, r.echo.Proto, tc.want)
		}
	}
}

// Policies see the TCP peer's address, never the Forwarded header.
func TestSourceIPIsTheConnectionsPeer(t *testing.T) {
	f := newFixture(t)
	f.setPolicies(allowFrom(policy.Match{SourceIPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.5/32")}}))
	c := f.client.HTTP("198.19.0.10:8000", false)
	defer c.CloseIdleConnections()
	if r := get(t, c, "http://httpbin/ip", nil); r.status != 200 {
		t.Fatalf("client at the allowed IP: %d %s", r.status, r.body)
	}
	other := wptest.NewClient(t, f.mesh, f.clientID, netip.MustParseAddr("127.0.0.6"), f.wpAddr, f.wpID)
	// Its Forwarded header claims the allowed address; it must not count.
	other.SourceIP = clientIP
	oc := other.HTTP("198.19.0.10:8000", false)
	defer oc.CloseIdleConnections()
	if r := get(t, oc, "http://httpbin/ip", nil); r.status != 403 {
		t.Fatalf("client at another IP with a forged Forwarded: %d, want 403", r.status)
	}
}

// A Host header naming another Service does not move the request: without
// a route the request goes to the CONNECT's original destination.
func TestHostHeaderDoesNotSteer(t *testing.T) {
	f := newFixture(t)
	c := f.client.HTTP("198.19.0.11:8000", false) // the Service without endpoints
	defer c.CloseIdleConnections()
	r := get(t, c, "http://198.19.0.10:8000/get", nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("request to the endpoint-less Service with Host of another: %d %q, want 503", r.status, r.body)
	}
}

func TestTCPRelayAndL4Policy(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := f.client.Connect(ctx, "198.19.0.10:9000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	got, err := io.ReadAll(s)
	_ = s.Close()
	if err != nil || string(got) != "ping" {
		t.Fatalf("tcp relay echoed %q, %v", got, err)
	}
	seen := append(f.pods[podA].Seen(), f.pods[podB].Seen()...)
	if len(seen) != 1 || !strings.HasSuffix(seen[0].Authority, ":9000") || seen[0].Peer != f.wpID {
		t.Fatalf("destination saw %+v", seen)
	}

	// DENY the client's principal: the stream is accepted, then closed
	// without a byte reaching the backend.
	f.setPolicies(&policy.Policy{Name: "deny-sleep", Namespace: "demo", Scope: policy.ScopeNamespace, Action: policy.ActionDeny,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{
			Principals: []policy.StringMatch{policy.Exact(f.clientID.Principal())}}}}}}}})
	s, err = f.client.Connect(ctx, "198.19.0.10:9000")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte("ping"))
	got, _ = io.ReadAll(s)
	_ = s.Close()
	if len(got) != 0 {
		t.Fatalf("denied tcp stream echoed %q", got)
	}
	if n := len(f.pods[podA].Seen()) + len(f.pods[podB].Seen()); n != 1 {
		t.Fatalf("a denied connection reached a destination (%d CONNECTs)", n)
	}
}

// A TCPRoute sends the connection to its backend Service; a route whose
// backends all weigh 0 closes it.
func TestTCPRoute(t *testing.T) {
	f := newFixture(t)
	relay := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := f.client.Connect(ctx, "198.19.0.10:9000")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, _ = s.Write([]byte("ping"))
		_ = s.CloseWrite()
		got, _ := io.ReadAll(s)
		return string(got)
	}
	be := route.Backend{Service: "demo/echo2", Hostname: "echo2.demo.svc.cluster.local", Port: 9000,
		Address: netip.MustParseAddrPort("198.19.0.13:9000"), Weight: 1}
	f.tcpRoutes.Store(&route.Table{TCP: []route.TCPRoute{{Name: "to-echo2", Backends: []route.Backend{be}}}})
	if got := relay(); got != "ping" {
		t.Fatalf("routed tcp echoed %q", got)
	}
	if a, b := f.pods[podA].Seen(), f.pods[podB].Seen(); len(a) != 0 || len(b) != 1 || b[0].Authority != "127.0.0.3:9000" {
		t.Fatalf("the route's backend (pod B only) was not used: A %+v, B %+v", a, b)
	}
	be.Weight = 0
	f.tcpRoutes.Store(&route.Table{TCP: []route.TCPRoute{{Name: "nothing", Backends: []route.Backend{be}}}})
	if got := relay(); got != "" {
		t.Fatalf("a route without weight echoed %q", got)
	}
	if n := len(f.pods[podA].Seen()) + len(f.pods[podB].Seen()); n != 1 {
		t.Fatalf("a connection without a backend reached a destination (%d CONNECTs)", n)
	}
}

// CONNECTs the waypoint does not serve are refused: an unbound VIP, a
// hostname authority.
func TestConnectRefusals(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		authority string
		want      int
	}{
		{unboundVIP.String() + ":8000", http.StatusServiceUnavailable},
		{"httpbin.demo.svc.cluster.local:8000", http.StatusBadRequest},
	} {
		_, err := f.client.Connect(ctx, tc.authority)
		var se *hbone.StatusError
		if !errors.As(err, &se) || se.Code != tc.want {
			t.Errorf("CONNECT %s: %v, want status %d", tc.authority, err, tc.want)
		}
	}
}

// A connect failure to one endpoint moves the request to another; the
// failed one is then avoided. The endpoint order is the snapshot's, so both
// picks (first, last) are run: one of them must hit the dead endpoint first.
func TestFailedEndpointIsSkipped(t *testing.T) {
	var deadTotal int64
	for _, last := range []bool{false, true} {
		f := newFixture(t)
		f.pickLast.Store(last)
		c := f.client.HTTP("198.19.0.12:8000", false)
		for i := 0; i < 3; i++ {
			if r := get(t, c, "http://flaky/get", nil); r.status != 200 {
				t.Fatalf("pick last=%v request %d: %d %q", last, i, r.status, r.body)
			}
		}
		c.CloseIdleConnections()
		if n := f.deadDials.Load(); n > 1 {
			t.Errorf("pick last=%v: the dead endpoint was dialled %d times; after a failure it must be avoided", last, n)
		}
		deadTotal += f.deadDials.Load()
	}
	if deadTotal == 0 {
		t.Fatal("neither pick order tried the dead endpoint: the test proves nothing")
	}
}

func TestMTLSIdentityRequired(t *testing.T) {
	f := newFixture(t)
	// A client expecting another identity for the waypoint refuses it.
	impostor := wptest.NewClient(t, f.mesh, f.clientID, clientIP, f.wpAddr, f.mesh.ID("demo", "other"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := impostor.Connect(ctx, "198.19.0.10:8000")
	var ve *identity.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("connect to a waypoint with the wrong identity: %v", err)
	}
}
