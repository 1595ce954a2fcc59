package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
)

func sample() *Snapshot {
	return &Snapshot{
		Version: Version, Gateway: GatewayRef{"billing", "waypoint"}, For: "service",
		Workload: Target{Policies: []*policy.Policy{{Name: "gw", Namespace: "billing", Scope: policy.ScopeNamespace, Action: policy.ActionDeny,
			Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{Paths: []policy.StringMatch{policy.Prefix("/admin")}}}}}}}}}},
		Services: []Service{{Namespace: "billing", Name: "api", Hostname: "api.billing.svc.cluster.local",
			Addresses: []netip.Addr{netip.MustParseAddr("198.19.0.10")},
			Target:    Target{JWTRules: []jwtauthn.Rule{{Issuer: "https://iss", JWKS: `{"keys":[]}`}}}}},
	}
}

func TestRoundTrip(t *testing.T) {
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ServiceFor(netip.MustParseAddr("198.19.0.10")).Name != "api" || got.ServiceFor(netip.MustParseAddr("198.19.0.11")) != nil {
		t.Fatal("ServiceFor after round trip")
	}
	if p := got.Workload.Policies[0]; p.Action != policy.ActionDeny || p.Rules[0].Clauses[0].Matches[0].Paths[0] != policy.Prefix("/admin") {
		t.Fatalf("policy after round trip: %+v", p)
	}
}

func TestRejects(t *testing.T) {
	good, _ := Marshal(sample())
	for _, tc := range []struct{ name, in, want string }{
		{"unknown field", strings.Replace(string(good), `"for":`, `"fro":"x","for":`, 1), "unknown field"},
		{"trailing", string(good) + "{}", "trailing"},
		{"version", strings.Replace(string(good), Version, "v0", 1), "version"},
		{"for", strings.Replace(string(good), `"for":"service"`, `"for":"pods"`, 1), "for:"},
		{"jwks both", strings.Replace(string(good), `"JWKSURI":""`, `"JWKSURI":"http://x"`, 1), "exactly one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzUnmarshal(f *testing.F) {
	good, _ := Marshal(sample())
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Unmarshal(b)
		if err != nil {
			return
		}
		again, err := Marshal(s)
		if err != nil {
			t.Fatalf("a decoded snapshot must re-encode: %v", err)
		}
		if _, err := Unmarshal(again); err != nil {
			t.Fatalf("re-encoded snapshot must decode: %v", err)
		}
	})
}
