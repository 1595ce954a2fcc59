package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

func withRouting(t *route.Table) *Snapshot {
	s := sample()
	s.Services[0].Routing = t
	return s
}

func TestRoutingRoundTrip(t *testing.T) {
	s := withRouting(&route.Table{HTTP: []route.HTTPRoute{{Name: "billing/r/0/0", Source: route.SourceHTTPRoute, Port: 8080,
		Match:    route.Match{Path: &route.PathMatch{Type: route.PathRegex, Value: "/v[0-9]+"}},
		Backends: []route.Backend{{Service: "billing/api-v2", Port: 8080, Address: netip.MustParseAddrPort("198.19.0.12:8080"), Weight: 3}},
		Retry:    route.DefaultRetry(), Fault: &route.Fault{Abort: &route.FaultAbort{HTTPStatus: 503, Percent: 50}}}}})
	b, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	tb := got.ServiceFor(netip.MustParseAddr("198.19.0.10")).Routing
	r := tb.Select(&route.Request{Port: 8080, Method: "GET", Path: "/v2"})
	if r == nil || r.Backends[0].Address.String() != "198.19.0.12:8080" || r.Retry.Attempts != 2 || r.Fault.Abort.Percent != 50 {
		t.Fatalf("after round trip the decoded table must be usable: %+v", r)
	}
	if tb.Select(&route.Request{Port: 8080, Method: "GET", Path: "/v2x"}) != nil {
		t.Fatal("regex compiled unanchored after decode")
	}
}

func TestRoutingValidated(t *testing.T) {
	bad := withRouting(&route.Table{HTTP: []route.HTTPRoute{{Name: "billing/r/0/0", Source: route.SourceHTTPRoute,
		Match: route.Match{Path: &route.PathMatch{Type: route.PathRegex, Value: "("}}}}})
	_, err := Marshal(bad)
	if err == nil || !strings.Contains(err.Error(), "services[0] billing/api: routing.http[0] billing/r/0/0: match: path regex") {
		t.Fatalf("err = %v", err)
	}
	good, _ := Marshal(sample())
	in := strings.Replace(string(good), `"hostname":"api.billing.svc.cluster.local",`,
		`"hostname":"api.billing.svc.cluster.local","routing":{"http":[{"name":"x","source":"HTTPRoute","match":{},"timeout":"-1s"}]},`, 1)
	if _, err := Unmarshal([]byte(in)); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative duration: %v", err)
	}
	in = strings.Replace(string(good), `"hostname":"api.billing.svc.cluster.local",`,
		`"hostname":"api.billing.svc.cluster.local","routing":{"http":[{"name":"x","source":"HTTPRoute","match":{},"bogus":1}]},`, 1)
	if _, err := Unmarshal([]byte(in)); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown routing field: %v", err)
	}
}
