package waypoint_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn/jwttest"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
)

var (
	testNow  = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	clientID = policy.NewIdentity("cluster.local", "clients", "curl")
	svcVIP   = netip.MustParseAddr("10.96.0.10")
)

// seen is one request as the upstream received it.
type seen struct {
	Method, Host, Target string
	Header               http.Header
	Body                 string
	// Aborted: the body failed before its end; never a complete request.
	Aborted bool
}

// recorder is the upstream: it proves which requests got through.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			// A body that ends short or long (an HTTP/2 content-length
			// mismatch) is not a complete request: a backend never serves it.
			r.mu.Lock()
			r.reqs = append(r.reqs, seen{Method: req.Method, Host: req.Host, Target: req.URL.RequestURI(), Header: req.Header.Clone(), Aborted: true})
			r.mu.Unlock()
			return nil, err
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{Method: req.Method, Host: req.Host, Target: req.URL.RequestURI(), Header: req.Header.Clone(), Body: string(body)})
	r.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

func (r *recorder) take() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// fixture is reliability §3 W's default fixture: a DENY on an admin-style
// prefix and exact paths, plus header, host and method DENYs, an ALLOW for the
// client identity, and JWT-guarded paths (ambient-semantics §8).
type fixture struct {
	srv *httptest.Server
	// h2c serves the same Waypoint over HTTP/2 with prior knowledge, as the
	// waypoint serves an HBONE stream (x/net/http2 ServeConn).
	h2c net.Listener
	// inflight counts handler invocations still running, so a test can wait
	// for a handler the client already gave up on (a reset stream) before it
	// reads what the upstream saw.
	inflight atomic.Int64
	upstream *recorder
	iss      *jwttest.Issuer
}

const issuerName = "https://issuer.example"

func pol(name string, action policy.Action, rules ...policy.Rule) *policy.Policy {
	return &policy.Policy{Name: name, Namespace: "apps", Scope: policy.ScopeWorkloadSelector, Action: action, Rules: rules}
}

// rule ANDs clauses; each clause is one Match here.
func rule(ms ...policy.Match) policy.Rule {
	r := policy.Rule{}
	for _, m := range ms {
		r.Clauses = append(r.Clauses, policy.Clause{Matches: []policy.Match{m}})
	}
	return r
}

func fixturePolicies() []*policy.Policy {
	ex, pre := policy.Exact, policy.Prefix
	return []*policy.Policy{
		pol("deny-admin", policy.ActionDeny, rule(policy.Match{Paths: []policy.StringMatch{ex("/admin"), pre("/admin/"), ex("/private")}})),
		pol("deny-mallory", policy.ActionDeny, rule(policy.Match{Headers: []policy.HeaderMatch{{Name: "x-user", Values: []policy.StringMatch{ex("mallory")}}}})),
		// hosts: ["blocked.example.com"] as the converter emits it (port-less).
		pol("deny-host", policy.ActionDeny, rule(policy.Match{Headers: []policy.HeaderMatch{{Name: policy.AttrAuthorityHost, Values: []policy.StringMatch{ex("blocked.example.com")}}}})),
		pol("deny-delete", policy.ActionDeny, rule(policy.Match{Methods: []string{"DELETE"}})),
		// headers: {cookie: {suffix: "role=admin"}} — matched on the joined
		// Cookie value (HTTP/2 split cookies are joined with "; ").
		pol("deny-admin-cookie", policy.ActionDeny, rule(policy.Match{Headers: []policy.HeaderMatch{{Name: "cookie", Values: []policy.StringMatch{policy.Suffix("role=admin")}}}})),
		pol("internal-from-10", policy.ActionDeny, rule(policy.Match{Paths: []policy.StringMatch{pre("/internal/")}},
			policy.Match{NotRemoteIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})),
		pol("allow", policy.ActionAllow,
			rule(policy.Match{Principals: []policy.StringMatch{ex(clientID.Principal())}}, policy.Match{NotPaths: []policy.StringMatch{pre("/anything/jwt/")}}),
			rule(policy.Match{Paths: []policy.StringMatch{pre("/anything/jwt/")}}, policy.Match{RequestPrincipals: []policy.StringMatch{ex(issuerName + "/alice")}}),
			rule(policy.Match{Paths: []policy.StringMatch{ex("/anything/jwt/public")}}),
		),
	}
}

func newFixture(t *testing.T, mode pathnorm.Mode) *fixture {
	t.Helper()
	f := &fixture{upstream: &recorder{}, iss: jwttest.NewIssuer(issuerName, "k1")}
	authn, err := jwtauthn.New(jwtauthn.Config{Now: func() time.Time { return testNow },
		Rules: []jwtauthn.Rule{{Issuer: f.iss.Name, JWKS: f.iss.JWKS()}}})
	if err != nil {
		t.Fatal(err)
	}
	ps := fixturePolicies()
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	wp, err := waypoint.New(waypoint.Config{
		Normalization: mode,
		Policies:      func(*waypoint.Exchange) []*policy.Policy { return ps },
		Authenticator: func(*waypoint.Exchange) *jwtauthn.Authenticator { return authn },
		Upstream:      f.upstream,
		NewRequestID:  func() string { return "rid-1" },
	})
	if err != nil {
		t.Fatal(err)
	}
	tracked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.inflight.Add(1)
		defer f.inflight.Add(-1)
		wp.ServeHTTP(w, r)
	})
	f.srv = httptest.NewUnstartedServer(tracked)
	f.srv.Config.MaxHeaderBytes = 64 << 10 // reliability §6 hardening
	f.srv.Config.ReadHeaderTimeout = 5 * time.Second
	f.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		src := netip.MustParseAddrPort(c.RemoteAddr().String())
		return waypoint.WithPeer(ctx, waypoint.Peer{SourceIP: src.Addr(), Identity: clientID, DestinationIP: svcVIP, DestPort: 8000})
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	f.h2c = serveH2C(t, tracked)
	return f
}

// settle waits until no handler has run for a while (bounded): an HTTP/2
// handler may still be starting after the client saw its stream reset.
func (f *fixture) settle() {
	deadline, quiet := time.Now().Add(2*time.Second), 0
	for quiet < 5 && time.Now().Before(deadline) {
		if f.inflight.Load() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveH2C serves h over HTTP/2 prior knowledge on a loopback listener, one
// http2.Server.ServeConn per connection, with the connection's Peer.
func serveH2C(t *testing.T, h http.Handler) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2s := &http2.Server{MaxConcurrentStreams: 100, MaxReadFrameSize: 1 << 20}
	base := &http.Server{MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
				src := netip.MustParseAddrPort(c.RemoteAddr().String())
				ctx := waypoint.WithPeer(context.Background(), waypoint.Peer{SourceIP: src.Addr(), Identity: clientID, DestinationIP: svcVIP, DestPort: 8000})
				h2s.ServeConn(c, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: base})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln
}

// exchange writes raw bytes on a fresh connection and reads n responses.
func (f *fixture) exchange(t *testing.T, raw string, n int) []int {
	t.Helper()
	c, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var codes []int
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	return codes
}

func (f *fixture) token(sub string, extra map[string]any) string {
	return f.iss.Sign(f.iss.Claims(sub, testNow, extra))
}
