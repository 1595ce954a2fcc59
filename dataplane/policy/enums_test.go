package policy_test

import (
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

func TestEnumRoundTrip(t *testing.T) {
	for _, s := range []policy.Scope{policy.ScopeGlobal, policy.ScopeNamespace, policy.ScopeWorkloadSelector} {
		if got, err := policy.ParseScope(s.String()); err != nil || got != s {
			t.Errorf("ParseScope(%q) = %v, %v", s, got, err)
		}
	}
	if got, err := policy.ParseScope("WORKLOAD_SELECTOR"); err != nil || got != policy.ScopeWorkloadSelector {
		t.Errorf("ParseScope(wire name) = %v, %v", got, err)
	}
	for _, a := range []policy.Action{allow, deny, custom, audit} {
		if got, err := policy.ParseAction(a.String()); err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a, got, err)
		}
	}
	for k := policy.MatchExact; k <= policy.MatchPresence; k++ {
		if got, err := policy.ParseMatchKind(k.String()); err != nil || got != k {
			t.Errorf("ParseMatchKind(%q) = %v, %v", k, got, err)
		}
	}
	for r := policy.ReasonNoAllowPolicies; r <= policy.ReasonUnknownPolicy; r++ {
		if got, err := policy.ParseReason(r.String()); err != nil || got != r {
			t.Errorf("ParseReason(%q) = %v, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "allowx", "Scope(0)"} {
		if _, err := policy.ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) accepted", bad)
		}
		if _, err := policy.ParseAction(bad); err == nil {
			t.Errorf("ParseAction(%q) accepted", bad)
		}
	}
	if policy.Scope(0).Valid() || policy.Action(0).Valid() || policy.Scope(0).String() != "Scope(0)" {
		t.Error("zero enums must be invalid")
	}
}

func TestStringMatchFromPattern(t *testing.T) {
	tests := []struct {
		in   string
		want policy.StringMatch
	}{
		{"*", policy.Presence()},
		{"*.svc", policy.Suffix(".svc")},
		{"ns/*", policy.Prefix("ns/")},
		{"a.b", policy.Exact("a.b")},
		{"**", policy.Suffix("*")},
	}
	for _, tt := range tests {
		if got := policy.StringMatchFromPattern(tt.in); got != tt.want {
			t.Errorf("StringMatchFromPattern(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
