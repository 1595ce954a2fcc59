package authz

import (
	"net/netip"
	"reflect"
	"testing"

	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

func TestFromWire(t *testing.T) {
	mapped := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0}
	full := &security.Authorization{
		Name: "p", Namespace: "foo", Scope: security.Scope_WORKLOAD_SELECTOR, Action: security.Action_DENY, DryRun: true,
		Groups: []*security.Group{group(
			one(&security.Match{
				Principals:          []*security.StringMatch{exact("a"), presence()},
				NotNamespaces:       []*security.StringMatch{{MatchType: &security.StringMatch_Suffix{Suffix: "x"}}},
				ServiceAccounts:     []*security.ServiceAccountMatch{{Namespace: "n", ServiceAccount: "s"}},
				SourceIps:           []*security.Address{{Address: mapped, Length: 104}, {Address: []byte{10, 1, 2, 3}, Length: 16}},
				NotDestinationPorts: []uint32{8080},
			}),
			[]*security.Match{},
		), group()},
	}
	want := &policy.Policy{Name: "p", Namespace: "foo", Scope: policy.ScopeWorkloadSelector, Action: policy.ActionDeny, DryRun: true,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{
			Principals:          []policy.StringMatch{policy.Exact("a"), policy.Presence()},
			NotNamespaces:       []policy.StringMatch{policy.Suffix("x")},
			ServiceAccounts:     []policy.ServiceAccountMatch{{Namespace: "n", ServiceAccount: "s"}},
			SourceIPs:           []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16")},
			NotDestinationPorts: []uint16{8080},
		}}}, {}}}, {}}}
	got, err := FromWire(full)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key() != "foo/p" || !reflect.DeepEqual(stripKey(got), stripKey(want)) {
		t.Errorf("FromWire:\n got %+v\nwant %+v", got, want)
	}

	bad := []struct {
		name string
		a    *security.Authorization
	}{
		{"nil", nil},
		{"no name", &security.Authorization{Namespace: "foo"}},
		{"unknown scope", &security.Authorization{Name: "p", Scope: 7}},
		{"unknown action", &security.Authorization{Name: "p", Action: 7}},
		{"string match without type", &security.Authorization{Name: "p", Groups: []*security.Group{group(one(&security.Match{Principals: []*security.StringMatch{{}}}))}}},
		{"short address", &security.Authorization{Name: "p", Groups: []*security.Group{group(one(&security.Match{SourceIps: []*security.Address{{Address: []byte{1, 2}, Length: 8}}}))}}},
		{"prefix too long", &security.Authorization{Name: "p", Groups: []*security.Group{group(one(&security.Match{SourceIps: []*security.Address{{Address: []byte{1, 2, 3, 4}, Length: 33}}}))}}},
		{"mapped prefix too short", &security.Authorization{Name: "p", Groups: []*security.Group{group(one(&security.Match{SourceIps: []*security.Address{{Address: mapped, Length: 64}}}))}}},
		{"port out of range", &security.Authorization{Name: "p", Groups: []*security.Group{group(one(&security.Match{DestinationPorts: []uint32{70000}}))}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := FromWire(tt.a); err == nil {
				t.Errorf("FromWire accepted: %+v", p)
			}
		})
	}
}

// stripKey copies a policy without its cached key so DeepEqual compares content.
func stripKey(p *policy.Policy) policy.Policy {
	return policy.Policy{Name: p.Name, Namespace: p.Namespace, Scope: p.Scope, Action: p.Action, Rules: p.Rules, DryRun: p.DryRun}
}
