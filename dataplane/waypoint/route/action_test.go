package route

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func seeded(seed uint64) Random { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Float64 }

func TestRewritePath(t *testing.T) {
	pre := func(v string) *PathMatch { return &PathMatch{Type: PathPrefix, Value: v} }
	for _, c := range []struct {
		name  string
		mod   *PathModifier
		match *PathMatch
		path  string
		want  string
	}{
		{"none", nil, nil, "/a", "/a"},
		{"full", &PathModifier{ReplaceFullPath, "/new"}, pre("/old"), "/old/x", "/new"},
		// Gateway API HTTPPathModifier ReplacePrefixMatch table (conformance HTTPRouteRewritePath).
		{"prefix", &PathModifier{ReplacePrefixMatch, "/xyz"}, pre("/foo"), "/foo/bar", "/xyz/bar"},
		{"prefix trailing slash repl", &PathModifier{ReplacePrefixMatch, "/xyz/"}, pre("/foo"), "/foo/bar", "/xyz/bar"},
		{"prefix trailing slash match", &PathModifier{ReplacePrefixMatch, "/xyz"}, pre("/foo/"), "/foo/bar", "/xyz/bar"},
		{"prefix exact path", &PathModifier{ReplacePrefixMatch, "/xyz"}, pre("/foo"), "/foo", "/xyz"},
		{"prefix keeps trailing slash", &PathModifier{ReplacePrefixMatch, "/xyz"}, pre("/foo"), "/foo/", "/xyz/"},
		{"strip prefix", &PathModifier{ReplacePrefixMatch, "/"}, pre("/strip"), "/strip/three", "/three"},
		{"strip all", &PathModifier{ReplacePrefixMatch, "/"}, pre("/strip"), "/strip", "/"},
		{"root match", &PathModifier{ReplacePrefixMatch, "/p"}, nil, "/a/b", "/p/a/b"},
		{"string prefix (Envoy prefix_rewrite)", &PathModifier{ReplacePrefixMatch, "/v2"}, &PathMatch{Type: PathStringPrefix, Value: "/v1"}, "/v1beta/x", "/v2beta/x"},
		{"exact match replaces all", &PathModifier{ReplacePrefixMatch, "/b"}, &PathMatch{Type: PathExact, Value: "/a"}, "/a", "/b"},
		{"prefix not matching is kept", &PathModifier{ReplacePrefixMatch, "/b"}, pre("/a"), "/ab", "/ab"},
	} {
		if got := RewritePath(c.mod, c.match, c.path); got != c.want {
			t.Errorf("%s: RewritePath(%q) = %q, want %q", c.name, c.path, got, c.want)
		}
	}
}

func TestRedirectLocation(t *testing.T) {
	for _, c := range []struct {
		name string
		r    Redirect
		want string
	}{
		{"hostname keeps listener port", Redirect{Hostname: "b.example"}, "http://b.example:8000/p?q=1"},
		{"scheme implies well-known port", Redirect{Scheme: "https"}, "https://a.example/p?q=1"},
		{"explicit port", Redirect{Scheme: "https", Port: 8443}, "https://a.example:8443/p?q=1"},
		{"well-known port omitted", Redirect{Port: 80}, "http://a.example/p?q=1"},
		{"path", Redirect{Path: &PathModifier{ReplaceFullPath, "/new"}}, "http://a.example:8000/new?q=1"},
	} {
		got := c.r.Location("http", "a.example", 8000, nil, "/p", "q=1")
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if (&Redirect{}).Status() != 302 || (&Redirect{StatusCode: 301}).Status() != 301 {
		t.Error("redirect status default")
	}
}

func TestHeaderModifierOrder(t *testing.T) {
	h := http.Header{"X-A": {"1"}, "X-B": {"old"}, "X-Drop": {"x"}}
	(&HeaderModifier{Remove: []string{"x-drop", "x-a"}, Set: []Header{{"x-b", "new"}}, Add: []Header{{"x-a", "2"}, {"x-b", "more"}}}).Apply(h)
	if h.Get("X-Drop") != "" || len(h["X-A"]) != 1 || h.Get("X-A") != "2" || len(h["X-B"]) != 2 || h["X-B"][0] != "new" {
		t.Fatalf("remove → set → add: %v", h)
	}
	var nilMod *HeaderModifier
	nilMod.Apply(h)
}

func TestRetryClassification(t *testing.T) {
	def, deflt := DefaultRetry(), DefaultRouteRetry()
	gw := &Retry{Attempts: 3, On: []RetryOn{RetryConnectFailure, RetryRetriableStatusCodes}, Codes: []int{503}}
	all5 := &Retry{Attempts: 1, On: []RetryOn{Retry5xx}}
	grpc := &Retry{Attempts: 1, On: []RetryOn{RetryUnavailable}}
	for _, c := range []struct {
		name string
		p    *Retry
		o    Outcome
		want bool
	}{
		{"istio default retries connect failure", def, Outcome{Failure: FailureConnect}, true},
		{"istio default retries refused stream", def, Outcome{Failure: FailureRefusedStream}, true},
		{"istio default has no retriable codes: 503 not retried", def, Outcome{Status: 503}, false},
		{"istio default does not retry a reset after sending", def, Outcome{Failure: FailureReset}, false},
		{"istio default retries grpc UNAVAILABLE", def, Outcome{Status: 200, GRPCStatus: "14"}, true},
		{"istio default retries grpc CANCELLED", def, Outcome{Status: 200, GRPCStatus: "1"}, true},
		{"default route retries before request", deflt, Outcome{Failure: FailureConnect}, true},
		{"default route never retries a response", deflt, Outcome{Status: 503}, false},
		{"codes: 503 retried", gw, Outcome{Status: 503}, true},
		{"codes: 500 not retried", gw, Outcome{Status: 500}, false},
		{"codes: per-try timeout not retried without 504", gw, Outcome{Failure: FailurePerTryTimeout}, false},
		{"5xx: 500", all5, Outcome{Status: 500}, true},
		{"5xx: reset", all5, Outcome{Failure: FailureReset}, true},
		{"5xx: per-try timeout", all5, Outcome{Failure: FailurePerTryTimeout}, true},
		{"5xx: 404", all5, Outcome{Status: 404}, false},
		{"grpc unavailable only", grpc, Outcome{Status: 200, GRPCStatus: "13"}, false},
		{"nil policy", nil, Outcome{Failure: FailureConnect}, false},
		{"zero attempts", &Retry{On: []RetryOn{Retry5xx}}, Outcome{Status: 500}, false},
	} {
		if got := c.p.ShouldRetry(c.o); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	rnd := seeded(1)
	def := DefaultRetry()
	for n := 1; n <= 12; n++ {
		d := def.BackoffBefore(n, rnd)
		if d < 0 || d > 250*time.Millisecond {
			t.Fatalf("default backoff %d: %v outside [0, 250ms]", n, d)
		}
	}
	explicit := &Retry{Attempts: 3, Backoff: Duration(10 * time.Millisecond)}
	for n := 1; n <= 5; n++ {
		if d := explicit.BackoffBefore(n, func() float64 { return 0 }); d != 10*time.Millisecond {
			t.Fatalf("Gateway API backoff is a minimum: %v", d)
		}
		if d := explicit.BackoffBefore(n, func() float64 { return 0.999 }); d > 100*time.Millisecond {
			t.Fatalf("capped at 10× base: %v", d)
		}
	}
}

func TestPickBackendEdges(t *testing.T) {
	vip := netip.MustParseAddrPort("198.19.0.1:80")
	if _, err := PickBackend(nil, seeded(1)); err != ErrAllWeightsZero {
		t.Fatal("no backends must be ErrAllWeightsZero")
	}
	if _, err := PickBackend([]Backend{{Service: "a/b", Address: vip}}, seeded(1)); err != ErrAllWeightsZero {
		t.Fatal("all zero must be ErrAllWeightsZero")
	}
	only := []Backend{{Service: "a/zero", Address: vip}, {Service: "a/one", Address: vip, Weight: 1}}
	for range 100 {
		if b, err := PickBackend(only, seeded(7)); err != nil || b.Service != "a/one" {
			t.Fatal("a weight-0 backend was picked")
		}
	}
	if _, err := PickBackend([]Backend{{Service: "a/x", Weight: 1}}, func() float64 { return 0.9999999999 }); err != ErrUnresolvedBackend {
		t.Fatal("unresolved backend must report ErrUnresolvedBackend")
	}
	if got := (&Backend{Address: netip.AddrPortFrom(vip.Addr(), 0)}).Target(9080); got.Port() != 9080 {
		t.Fatalf("same-port backend: %v", got)
	}
}

// within checks an observed count against the expected fraction with an
// absolute tolerance in percentage points.
func within(t *testing.T, what string, got, n int, want, tol float64) {
	t.Helper()
	frac := float64(got) / float64(n) * 100
	if math.Abs(frac-want) > tol {
		t.Errorf("%s: %.2f%%, want %.0f%% ± %.0f", what, frac, want, tol)
	}
}

func TestWeightedSplitStatistics(t *testing.T) {
	vip := netip.MustParseAddrPort("198.19.0.1:80")
	bs := []Backend{{Service: "a/v1", Address: vip, Weight: 90}, {Service: "a/v2", Address: vip, Weight: 10}, {Service: "a/v3", Address: vip}}
	rnd := seeded(42)
	const n = 20000
	counts := map[string]int{}
	for range n {
		b, err := PickBackend(bs, rnd)
		if err != nil {
			t.Fatal(err)
		}
		counts[b.Service]++
	}
	within(t, "v1", counts["a/v1"], n, 90, 1)
	within(t, "v2", counts["a/v2"], n, 10, 1)
	if counts["a/v3"] != 0 {
		t.Error("weight 0 picked")
	}
}

func TestFaultStatistics(t *testing.T) {
	f := &Fault{Delay: &FaultDelay{Fixed: Duration(time.Second), Percent: 25}, Abort: &FaultAbort{HTTPStatus: 503, Percent: 50}}
	rnd := seeded(3)
	const n = 20000
	var delayed, aborted int
	for range n {
		d := f.Decide(rnd)
		if d.Delay == time.Second {
			delayed++
		}
		if d.Abort != nil {
			aborted++
		}
	}
	within(t, "delay", delayed, n, 25, 1)
	within(t, "abort", aborted, n, 50, 1)
	always := &Fault{Abort: &FaultAbort{HTTPStatus: 500, Percent: 100}, Delay: &FaultDelay{Fixed: 1, Percent: 0}}
	for range 100 {
		if d := always.Decide(rnd); d.Abort == nil || d.Delay != 0 {
			t.Fatal("100% abort / 0% delay not honoured")
		}
	}
	if (*Fault)(nil).Decide(rnd) != (FaultDecision{}) {
		t.Fatal("nil fault decided something")
	}
	if n, ok := GRPCStatusNumber("UNAVAILABLE"); !ok || n != "14" {
		t.Fatal("grpc status name")
	}
	if n, ok := GRPCStatusNumber("14"); !ok || n != "14" {
		t.Fatal("grpc status number")
	}
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	if err := d.UnmarshalJSON([]byte(`"1.5s"`)); err != nil || d.D() != 1500*time.Millisecond {
		t.Fatal(d, err)
	}
	for _, bad := range []string{`"-1s"`, `15`, `"soon"`} {
		if err := d.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	b, _ := Duration(2 * time.Second).MarshalJSON()
	if string(b) != `"2s"` {
		t.Fatal(string(b))
	}
}

func TestTCPBackend(t *testing.T) {
	vip := netip.MustParseAddrPort("198.19.0.1:5432")
	if _, ok, _ := (*Table)(nil).TCPBackend(seeded(1)); ok {
		t.Fatal("nil table has no TCP route")
	}
	tb := &Table{TCP: []TCPRoute{{Name: "t", Backends: []Backend{{Service: "a/db", Address: vip, Weight: 1}}}}}
	if b, ok, err := tb.TCPBackend(seeded(1)); !ok || err != nil || b.Address != vip {
		t.Fatalf("%v %v %v", b, ok, err)
	}
	tb.TCP[0].Backends[0].Weight = 0
	if _, ok, err := tb.TCPBackend(seeded(1)); !ok || err != ErrAllWeightsZero {
		t.Fatalf("all-zero TCP split: %v %v", ok, err)
	}
}
