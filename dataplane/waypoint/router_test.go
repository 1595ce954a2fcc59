package waypoint_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

// try is one request as the routed upstream received it.
type try struct {
	Dial, Host, Target, Body string
	Header                   http.Header
}

// backendFunc answers one try; n counts the tries of this request id.
type backendFunc func(ctx context.Context, t try, n int) (*http.Response, error)

// routedUpstream records every try and lets each test script failures.
type routedUpstream struct {
	mu      sync.Mutex
	tries   []try
	perID   map[string]int
	respond backendFunc
}

func (u *routedUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the forwarded body: %w", err)
		}
	}
	t := try{Dial: req.URL.Host, Host: req.Host, Target: req.URL.RequestURI(), Body: string(body), Header: req.Header.Clone()}
	u.mu.Lock()
	u.tries = append(u.tries, t)
	id := req.Header.Get("X-Request-Id")
	u.perID[id]++
	n := u.perID[id]
	u.mu.Unlock()
	if u.respond != nil {
		return u.respond(req.Context(), t, n)
	}
	return textResponse(200, "served by "+t.Dial), nil
}

func (u *routedUpstream) take() []try {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.tries
	u.tries = nil
	return out
}

func textResponse(code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader(body))}
}

var (
	v1 = route.Backend{Service: "apps/reviews-v1", Hostname: "reviews-v1.apps.svc.cluster.local", Port: 9080,
		Address: netip.MustParseAddrPort("198.19.0.11:9080"), Weight: 1}
	v2 = route.Backend{Service: "apps/reviews-v2", Hostname: "reviews-v2.apps.svc.cluster.local", Port: 9080,
		Address: netip.MustParseAddrPort("198.19.0.12:9080"), Weight: 1}
)

func weighted(b route.Backend, w uint32) route.Backend { b.Weight = w; return b }

// routedWaypoint serves a waypoint with table over real sockets; the
// returned function reports the Record of the last request.
type routedWaypoint struct {
	srv  *httptest.Server
	up   *routedUpstream
	mu   sync.Mutex
	last waypoint.RecordView
}

func newRouted(t *testing.T, table *route.Table, respond backendFunc) *routedWaypoint {
	t.Helper()
	if err := table.Validate("test"); err != nil {
		t.Fatal(err)
	}
	rw := &routedWaypoint{up: &routedUpstream{perID: map[string]int{}, respond: respond}}
	rng := rand.New(rand.NewPCG(7, 11))
	var rngMu sync.Mutex
	var ids int
	var idMu sync.Mutex
	wp, err := waypoint.New(waypoint.Config{
		Normalization: pathnorm.ModeBase,
		Routes:        func(*waypoint.Exchange) *route.Table { return table },
		Rand: func() float64 {
			rngMu.Lock()
			defer rngMu.Unlock()
			return rng.Float64()
		},
		Upstream: rw.up,
		NewRequestID: func() string {
			idMu.Lock()
			defer idMu.Unlock()
			ids++
			return fmt.Sprintf("rid-%d", ids)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rw.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &waypoint.Record{}
		wp.ServeHTTP(w, r.WithContext(waypoint.WithRecord(r.Context(), rec)))
		rw.mu.Lock()
		rw.last = rec.View()
		rw.mu.Unlock()
	}))
	rw.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		src := netip.MustParseAddrPort(c.RemoteAddr().String())
		return waypoint.WithPeer(ctx, waypoint.Peer{SourceIP: src.Addr(), Identity: clientID, DestinationIP: svcVIP, DestPort: 9080})
	}
	rw.srv.Start()
	t.Cleanup(rw.srv.Close)
	return rw
}

type reply struct {
	code   int
	body   string
	header http.Header
}

func (rw *routedWaypoint) do(t *testing.T, method, target, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rw.srv.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "reviews.apps.svc.cluster.local:9080"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := rw.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return reply{resp.StatusCode, string(b), resp.Header}
}

func (rw *routedWaypoint) record() waypoint.RecordView {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.last
}

func catchAll(name string, bs ...route.Backend) route.HTTPRoute {
	return route.HTTPRoute{Name: name, Source: route.SourceHTTPRoute, Backends: bs, Retry: route.DefaultRetry()}
}

// Without routes the request goes to the original destination: the dial
// address is the VIP:port from the HBONE authority, never the Host header.
func TestDefaultRouteDialsOriginalDestination(t *testing.T) {
	rw := newRouted(t, nil, nil)
	r := rw.do(t, "GET", "/get", "", "X-A", "1")
	tries := rw.up.take()
	if r.code != 200 || len(tries) != 1 {
		t.Fatalf("%d, %d tries", r.code, len(tries))
	}
	if tries[0].Dial != "10.96.0.10:9080" || tries[0].Host != "reviews.apps.svc.cluster.local:9080" {
		t.Fatalf("dial %q host %q", tries[0].Dial, tries[0].Host)
	}
}

func TestRoutingDecisions(t *testing.T) {
	table := &route.Table{HTTP: []route.HTTPRoute{
		{Name: "redirect", Source: route.SourceHTTPRoute, Match: route.Match{Path: &route.PathMatch{Type: route.PathExact, Value: "/old"}},
			Redirect: &route.Redirect{Path: &route.PathModifier{Type: route.ReplaceFullPath, Value: "/new"}, StatusCode: 301}},
		{Name: "zero", Source: route.SourceHTTPRoute, Match: route.Match{Path: &route.PathMatch{Type: route.PathExact, Value: "/zero"}},
			Backends: []route.Backend{weighted(v1, 0)}},
		{Name: "unresolved", Source: route.SourceHTTPRoute, Match: route.Match{Path: &route.PathMatch{Type: route.PathExact, Value: "/ghost"}},
			Backends: []route.Backend{{Service: "apps/ghost", Port: 80, Weight: 1}}},
		{Name: "v2", Source: route.SourceHTTPRoute,
			Match:           route.Match{Path: &route.PathMatch{Type: route.PathPrefix, Value: "/api"}, Headers: []route.HeaderMatch{{Name: "x-version", Type: route.StringExact, Value: "v2"}}},
			Backends:        []route.Backend{v2},
			RequestHeaders:  &route.HeaderModifier{Set: []route.Header{{Name: "x-routed", Value: "v2"}}, Remove: []string{"x-drop"}},
			ResponseHeaders: &route.HeaderModifier{Add: []route.Header{{Name: "x-via", Value: "route-v2"}}},
			Rewrite:         &route.Rewrite{Hostname: "reviews-v2.apps.svc.cluster.local", Path: &route.PathModifier{Type: route.ReplacePrefixMatch, Value: "/v2"}}},
		{Name: "get-only", Source: route.SourceHTTPRoute, Match: route.Match{Method: "GET"}, Backends: []route.Backend{v1}},
	}}
	rw := newRouted(t, table, nil)

	r := rw.do(t, "GET", "/api/items?id=3", "", "X-Version", "v2", "X-Drop", "x")
	tries := rw.up.take()
	if r.code != 200 || len(tries) != 1 || r.header.Get("X-Via") != "route-v2" {
		t.Fatalf("header route: %d %v %v", r.code, tries, r.header)
	}
	got := tries[0]
	if got.Dial != "198.19.0.12:9080" || got.Host != "reviews-v2.apps.svc.cluster.local" || got.Target != "/v2/items?id=3" ||
		got.Header.Get("X-Routed") != "v2" || got.Header.Get("X-Drop") != "" {
		t.Fatalf("upstream saw %+v", got)
	}
	if rec := rw.record(); !rec.HasBackend || rec.Backend.ServiceName != "reviews-v2" || rec.Backend.Port != 9080 {
		t.Fatalf("record backend: %+v", rec)
	}

	r = rw.do(t, "GET", "/api/items", "", "X-Version", "v1")
	if tries := rw.up.take(); r.code != 200 || tries[0].Dial != "198.19.0.11:9080" || tries[0].Target != "/api/items" {
		t.Fatalf("fallthrough route: %d %+v", r.code, tries)
	}

	r = rw.do(t, "GET", "/old?x=1", "")
	if r.code != 301 || r.header.Get("Location") != "http://reviews.apps.svc.cluster.local:9080/new?x=1" || len(rw.up.take()) != 0 {
		t.Fatalf("redirect: %d %q", r.code, r.header.Get("Location"))
	}

	r = rw.do(t, "POST", "/nothing", "x")
	if r.code != 404 || len(rw.up.take()) != 0 || rw.record().Flags&waypoint.FlagNoRouteFound == 0 {
		t.Fatalf("no route: %d flags %v", r.code, rw.record().Flags)
	}
	for _, p := range []string{"/zero", "/ghost"} {
		if r := rw.do(t, "GET", p, ""); r.code != 500 || len(rw.up.take()) != 0 {
			t.Fatalf("%s: %d", p, r.code)
		}
	}
}

func TestWeightedSplitOverRequests(t *testing.T) {
	rw := newRouted(t, &route.Table{HTTP: []route.HTTPRoute{catchAll("split", weighted(v1, 90), weighted(v2, 10))}}, nil)
	const n = 1000
	for range n {
		if r := rw.do(t, "GET", "/", ""); r.code != 200 {
			t.Fatal(r.code)
		}
	}
	counts := map[string]int{}
	for _, tr := range rw.up.take() {
		counts[tr.Dial]++
	}
	if v := counts["198.19.0.12:9080"]; v < 70 || v > 130 {
		t.Fatalf("v2 got %d of %d, want 100 ± 30 (10%% ± 3)", v, n)
	}
}
