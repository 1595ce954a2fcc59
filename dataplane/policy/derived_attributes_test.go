package policy_test

import (
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

func TestClaimAttribute(t *testing.T) {
	cases := map[string][]string{
		":request.auth.claims[groups]":                 {"groups"},
		":request.auth.claims[a][b]":                   {"a", "b"},
		":request.auth.claims[%52ole]":                 {"Role"},
		":request.auth.claims[a%5d%5bb]":               {"a][b"},
		":request.auth.claims[https%3a%2f%2fx.io%2fr]": {"https://x.io/r"},
	}
	for want, path := range cases {
		if got := policy.ClaimAttribute(path...); got != want {
			t.Errorf("ClaimAttribute(%q) = %q; want %q", path, got, want)
		}
	}
	if policy.ClaimAttribute("Role") == policy.ClaimAttribute("role") {
		t.Error("claim names must stay case-sensitive")
	}
}

func TestClaimValuesAndWhenMatching(t *testing.T) {
	claims := map[string]any{
		"sub": "alice", "groups": []any{"dev", "ops", 7.0}, "admin": true,
		"nested": map[string]any{"role": "reader"}, "Role": "admin",
	}
	h := policy.ClaimValues(claims)
	match := func(name string, values ...string) bool {
		p := pol(policy.ActionAllow, policy.Match{Headers: []policy.HeaderMatch{{Name: name, Values: patterns(values...)}}})
		return policy.Evaluate([]*policy.Policy{p}, withReq(policy.Request{Headers: h}, plain(80))).Allowed
	}
	cases := []struct {
		name   string
		values []string
		want   bool
	}{
		{policy.ClaimAttribute("sub"), []string{"alice"}, true},
		{policy.ClaimAttribute("sub"), []string{"bob"}, false},
		{policy.ClaimAttribute("groups"), []string{"ops"}, true},
		{policy.ClaimAttribute("groups"), []string{"dev,ops"}, false}, // never joined (W5)
		{policy.ClaimAttribute("groups"), []string{"7"}, false},       // non-strings never match
		{policy.ClaimAttribute("admin"), []string{"true"}, false},
		{policy.ClaimAttribute("nested", "role"), []string{"reader"}, true},
		{policy.ClaimAttribute("role"), []string{"admin"}, false}, // "Role" ≠ "role"
		{policy.ClaimAttribute("Role"), []string{"admin"}, true},
		{policy.ClaimAttribute("missing"), []string{"*"}, false},
	}
	for _, c := range cases {
		if got := match(c.name, c.values...); got != c.want {
			t.Errorf("%s %v: got %v want %v", c.name, c.values, got, c.want)
		}
	}
	if !policy.IsDerivedAttribute(policy.AttrAuthorityHost) || policy.IsDerivedAttribute("x-role") {
		t.Error("IsDerivedAttribute")
	}
}
