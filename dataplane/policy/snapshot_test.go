package policy_test

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

func scoped(ns, name string, scope policy.Scope, action policy.Action, ms ...policy.Match) *policy.Policy {
	p := pol(action, ms...)
	p.Namespace, p.Name, p.Scope = ns, name, scope
	return p
}

func keys(ps []*policy.Policy) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Key())
	}
	return out
}

func testSnapshot(t *testing.T) *policy.Snapshot {
	t.Helper()
	s, err := policy.NewSnapshot([]*policy.Policy{
		scoped("foo", "sel", policy.ScopeWorkloadSelector, allow, M{Principals: patterns(sleepP)}),
		scoped("istio-system", "global-b", policy.ScopeGlobal, deny, M{DestinationPorts: []uint16{9999}}),
		scoped("istio-system", "global-a", policy.ScopeGlobal, allow, M{DestinationPorts: []uint16{1}}),
		scoped("foo", "ns-wide", policy.ScopeNamespace, deny, M{Namespaces: patterns("evil")}),
		scoped("bar", "ns-wide", policy.ScopeNamespace, deny, M{Namespaces: patterns("*")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotApplicable(t *testing.T) {
	s := testSnapshot(t)
	tests := []struct {
		name    string
		ns      string
		refs    []string
		want    []string
		unknown string
	}{
		{"global only", "baz", nil, []string{"istio-system/global-a", "istio-system/global-b"}, ""},
		{"global and namespace", "foo", nil, []string{"istio-system/global-a", "istio-system/global-b", "foo/ns-wide"}, ""},
		{"selector by reference", "foo", []string{"foo/sel"}, []string{"istio-system/global-a", "istio-system/global-b", "foo/ns-wide", "foo/sel"}, ""},
		{"selector not referenced is not applied", "baz", nil, []string{"istio-system/global-a", "istio-system/global-b"}, ""},
		{"unknown reference", "foo", []string{"foo/missing"}, nil, "foo/missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Applicable(tt.ns, tt.refs)
			if tt.unknown != "" {
				var u *policy.UnknownPolicyError
				if !errors.As(err, &u) || u.Key != tt.unknown {
					t.Fatalf("err = %v, want unknown %s", err, tt.unknown)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Errorf("got %v, want %v", keys(got), tt.want)
			}
		})
	}
}

func TestSnapshotDecide(t *testing.T) {
	s := testSnapshot(t)
	tests := []struct {
		name  string
		ns    string
		refs  []string
		attrs *policy.Attributes
		want  policy.Verdict
	}{
		{"global ALLOW applies everywhere", "baz", nil, plain(80), policy.Verdict{Reason: policy.ReasonNotAllowed}},
		{"global ALLOW matches", "baz", nil, plain(1), policy.Verdict{Allowed: true, Policy: "istio-system/global-a", Reason: policy.ReasonAllowMatched}},
		{"namespace DENY", "bar", nil, mtls("x", "y", 1), policy.Verdict{Policy: "bar/ns-wide", Reason: policy.ReasonExplicitlyDenied}},
		{"namespace DENY other ns not applied", "baz", nil, mtls("x", "y", 1), policy.Verdict{Allowed: true, Policy: "istio-system/global-a", Reason: policy.ReasonAllowMatched}},
		{"selector ALLOW", "foo", []string{"foo/sel"}, mtls("foo", "sleep", 80), policy.Verdict{Allowed: true, Policy: "foo/sel", Reason: policy.ReasonAllowMatched}},
		{"unknown reference denies", "foo", []string{"foo/sel", "foo/missing"}, mtls("foo", "sleep", 80), policy.Verdict{Policy: "foo/missing", Reason: policy.ReasonUnknownPolicy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Decide(tt.ns, tt.refs, tt.attrs); got.Verdict != tt.want {
				t.Errorf("got %+v, want %+v", got.Verdict, tt.want)
			}
		})
	}
}

func TestNewSnapshotRejects(t *testing.T) {
	tests := []struct {
		name string
		ps   []*policy.Policy
	}{
		{"nil policy", []*policy.Policy{nil}},
		{"empty name", []*policy.Policy{{Namespace: "a", Scope: policy.ScopeGlobal, Action: allow}}},
		{"zero scope", []*policy.Policy{{Name: "a", Action: allow}}},
		{"zero action", []*policy.Policy{{Name: "a", Scope: policy.ScopeGlobal}}},
		{"duplicate", []*policy.Policy{scoped("a", "b", policy.ScopeNamespace, allow), scoped("a", "b", policy.ScopeGlobal, deny)}},
		{"bad match kind", []*policy.Policy{scoped("a", "b", policy.ScopeNamespace, allow, M{Principals: []policy.StringMatch{{Value: "x"}}})}},
		{"bad prefix", []*policy.Policy{scoped("a", "b", policy.ScopeNamespace, allow, M{SourceIPs: []netip.Prefix{{}}})}},
		{"header without name", []*policy.Policy{scoped("a", "b", policy.ScopeNamespace, allow, M{Headers: []policy.HeaderMatch{{}}})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := policy.NewSnapshot(tt.ps); err == nil {
				t.Error("NewSnapshot accepted an invalid policy set")
			}
		})
	}
}

func TestStoreReplace(t *testing.T) {
	st := policy.NewStore()
	if got := st.Load().Decide("foo", nil, plain(80)); !got.Allowed {
		t.Fatalf("empty store denied: %+v", got)
	}
	strictPol := scoped("istio-system", "istio_converted_static_strict", policy.ScopeGlobal, deny, M{NotPrincipals: sm(policy.Presence())})
	prev, err := st.Replace([]*policy.Policy{strictPol})
	if err != nil || prev.Len() != 0 {
		t.Fatalf("Replace: prev=%v err=%v", prev, err)
	}
	// A connection admitted under the old snapshot is now denied: the connection
	// manager re-runs Decide on each swap and closes it.
	if got := st.Load().Decide("foo", nil, plain(80)); got.Allowed || got.Text() != "explicitly denied by: istio-system/istio_converted_static_strict" {
		t.Errorf("after Replace: %+v %q", got, got.Text())
	}
	if _, err := st.Replace([]*policy.Policy{{}}); err == nil {
		t.Fatal("Replace accepted an invalid policy")
	}
	if st.Load().Len() != 1 {
		t.Error("failed Replace changed the current snapshot")
	}
}

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		in   string
		want string // principal, "" for error
	}{
		{"spiffe://cluster.local/ns/foo/sa/sleep", "cluster.local/ns/foo/sa/sleep"},
		{"spiffe://td/ns/a.b/sa/c.d", "td/ns/a.b/sa/c.d"},
		{"cluster.local/ns/foo/sa/sleep", ""},
		{"spiffe://cluster.local/ns/foo/sa/sleep/extra", ""},
		{"spiffe://cluster.local/ns//sa/sleep", ""},
		{"spiffe://cluster.local/sa/foo/ns/sleep", ""},
		{"spiffe:///ns/foo/sa/sleep", ""},
	}
	for _, tt := range tests {
		id, err := policy.ParseIdentity(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseIdentity(%q) accepted: %v", tt.in, id)
		case tt.want != "" && (err != nil || id.Principal() != tt.want || id.String() != tt.in):
			t.Errorf("ParseIdentity(%q) = %v, %v; want principal %q", tt.in, id, err, tt.want)
		}
	}
}
