package policy_test

import (
	"net/netip"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

const (
	allow  = policy.ActionAllow
	deny   = policy.ActionDeny
	custom = policy.ActionCustom
	audit  = policy.ActionAudit

	sleepP = "cluster.local/ns/foo/sa/sleep"
)

type M = policy.Match

func TestEvaluate(t *testing.T) {
	strict := func() *policy.Policy { return pol(deny, M{NotPrincipals: sm(policy.Presence())}) }
	allowSleep := func() *policy.Policy { return pol(allow, M{Principals: patterns(sleepP)}) }

	tests := []struct {
		name     string
		policies []*policy.Policy
		attrs    *policy.Attributes
		allowed  bool
		reason   policy.Reason
		by       string // deciding policy key, "" if none
	}{
		{"no policies allow", nil, mtls("foo", "sleep", 80), true, policy.ReasonNoAllowPolicies, ""},
		{"no policies allow plaintext", nil, plain(80), true, policy.ReasonNoAllowPolicies, ""},

		// Z6 principals.
		{"exact principal allowed", named(allowSleep()), mtls("foo", "sleep", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"exact principal other SA denied", named(allowSleep()), mtls("foo", "other", 80), false, policy.ReasonNotAllowed, ""},
		{"exact principal plaintext denied", named(allowSleep()), plain(80), false, policy.ReasonNotAllowed, ""},
		{"exact principal other trust domain denied", named(allowSleep()),
			&policy.Attributes{Source: policy.NewIdentity("other.td", "foo", "sleep"), SourceIP: srcIP}, false, policy.ReasonNotAllowed, ""},
		{"prefix principal", named(pol(allow, M{Principals: patterns("cluster.local/ns/foo/*")})), mtls("foo", "any", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"prefix principal other ns", named(pol(allow, M{Principals: patterns("cluster.local/ns/foo/*")})), mtls("foobar", "any", 80), false, policy.ReasonNotAllowed, ""},
		{"suffix principal", named(pol(allow, M{Principals: patterns("*/sa/sleep")})), mtls("bar", "sleep", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"suffix principal longer SA", named(pol(allow, M{Principals: patterns("*/sa/sleep")})), mtls("bar", "xsleepy", 80), false, policy.ReasonNotAllowed, ""},
		{"presence principal mTLS", named(pol(allow, M{Principals: patterns("*")})), mtls("bar", "x", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"presence principal plaintext", named(pol(allow, M{Principals: patterns("*")})), plain(80), false, policy.ReasonNotAllowed, ""},
		{"dotted SA is literal, not regex", named(pol(allow, M{Principals: patterns("cluster.local/ns/foo/sa/my.svc")})), mtls("foo", "myXsvc", 80), false, policy.ReasonNotAllowed, ""},
		{"dotted SA exact", named(pol(allow, M{Principals: patterns("cluster.local/ns/foo/sa/my.svc")})), mtls("foo", "my.svc", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"spiffe:// in policy never matches", named(pol(allow, M{Principals: patterns("spiffe://" + sleepP)})), mtls("foo", "sleep", 80), false, policy.ReasonNotAllowed, ""},
		{"notPrincipals excludes", named(pol(allow, M{NotPrincipals: patterns(sleepP)})), mtls("foo", "sleep", 80), false, policy.ReasonNotAllowed, ""},
		{"notPrincipals admits other", named(pol(allow, M{NotPrincipals: patterns(sleepP)})), mtls("foo", "other", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"notPrincipals admits plaintext", named(pol(allow, M{NotPrincipals: patterns(sleepP)})), plain(80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"STRICT denies plaintext", named(strict()), plain(80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"STRICT admits mTLS", named(strict()), mtls("foo", "sleep", 80), true, policy.ReasonNoAllowPolicies, ""},
		{"TCP DENY suffix fires", named(pol(deny, M{Principals: patterns("*/sa/evil")})), mtls("bar", "evil", 80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"TCP DENY suffix skips plaintext", named(pol(deny, M{Principals: patterns("*/sa/evil")})), plain(80), true, policy.ReasonNoAllowPolicies, ""},

		// Namespaces and service accounts.
		{"namespace allowed", named(pol(allow, M{Namespaces: patterns("foo")})), mtls("foo", "x", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"namespace other denied", named(pol(allow, M{Namespaces: patterns("foo")})), mtls("bar", "x", 80), false, policy.ReasonNotAllowed, ""},
		{"namespace plaintext denied", named(pol(allow, M{Namespaces: patterns("foo")})), plain(80), false, policy.ReasonNotAllowed, ""},
		{"namespace presence plaintext denied", named(pol(allow, M{Namespaces: patterns("*")})), plain(80), false, policy.ReasonNotAllowed, ""},
		{"notNamespaces plaintext holds", named(pol(allow, M{NotNamespaces: patterns("foo")})), plain(80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"DENY namespace prefix", named(pol(deny, M{Namespaces: patterns("team-*")})), mtls("team-a", "x", 80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"serviceAccount match", named(pol(allow, M{ServiceAccounts: []policy.ServiceAccountMatch{{Namespace: "foo", ServiceAccount: "sleep"}}})), mtls("foo", "sleep", 80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"serviceAccount other ns", named(pol(allow, M{ServiceAccounts: []policy.ServiceAccountMatch{{Namespace: "foo", ServiceAccount: "sleep"}}})), mtls("bar", "sleep", 80), false, policy.ReasonNotAllowed, ""},
		{"serviceAccount plaintext", named(pol(allow, M{ServiceAccounts: []policy.ServiceAccountMatch{{Namespace: "foo", ServiceAccount: "sleep"}}})), plain(80), false, policy.ReasonNotAllowed, ""},

		// IP blocks.
		{"ipBlock allowed", named(pol(allow, M{SourceIPs: cidrs("10.0.0.0/24")})), plain(80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"ipBlock outside denied", named(pol(allow, M{SourceIPs: cidrs("10.0.0.0/24")})), from("10.0.2.1", plain(80)), false, policy.ReasonNotAllowed, ""},
		{"ipBlock IPv4-mapped source", named(pol(allow, M{SourceIPs: cidrs("10.0.0.0/24")})), from("::ffff:10.0.0.9", plain(80)), true, policy.ReasonAllowMatched, "ns/p0"},
		{"ipBlock v6 prefix vs v4 source", named(pol(allow, M{SourceIPs: cidrs("fd00::/8")})), plain(80), false, policy.ReasonNotAllowed, ""},
		{"ipBlock v6 source", named(pol(allow, M{SourceIPs: cidrs("fd00::/8")})), from("fd00::1", plain(80)), true, policy.ReasonAllowMatched, "ns/p0"},
		{"notIpBlocks excludes", named(pol(allow, M{NotSourceIPs: cidrs("10.0.0.0/24")})), plain(80), false, policy.ReasonNotAllowed, ""},
		{"notIpBlocks excludes mapped", named(pol(allow, M{NotSourceIPs: cidrs("10.0.0.0/24")})), from("::ffff:10.0.0.1", plain(80)), false, policy.ReasonNotAllowed, ""},
		{"DENY single IP", named(pol(deny, M{SourceIPs: cidrs("10.0.0.1/32")})), mtls("foo", "sleep", 80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"destination IP", named(pol(allow, M{DestinationIPs: cidrs("10.0.1.0/24")})), plain(80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"notDestination IP", named(pol(allow, M{NotDestinationIPs: cidrs("10.0.1.1/32")})), plain(80), false, policy.ReasonNotAllowed, ""},

		// Ports.
		{"port allowed", named(pol(allow, M{DestinationPorts: []uint16{8080}})), plain(8080), true, policy.ReasonAllowMatched, "ns/p0"},
		{"port other denied", named(pol(allow, M{DestinationPorts: []uint16{8080}})), plain(9090), false, policy.ReasonNotAllowed, ""},
		{"DENY notPorts other port", named(pol(deny, M{NotDestinationPorts: []uint16{8080}})), plain(9090), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"DENY notPorts exempt port", named(pol(deny, M{NotDestinationPorts: []uint16{8080}})), plain(8080), true, policy.ReasonNoAllowPolicies, ""},

		// Combination rules.
		{"clauses AND: from ok, to not", named(rules(allow, rule([]M{{Principals: patterns(sleepP)}}, []M{{DestinationPorts: []uint16{8080}}}))), mtls("foo", "sleep", 9090), false, policy.ReasonNotAllowed, ""},
		{"clauses AND: both", named(rules(allow, rule([]M{{Principals: patterns(sleepP)}}, []M{{DestinationPorts: []uint16{8080}}}))), mtls("foo", "sleep", 8080), true, policy.ReasonAllowMatched, "ns/p0"},
		{"rules OR", named(rules(allow, rule([]M{{DestinationPorts: []uint16{1}}}), rule([]M{{Principals: patterns(sleepP)}}))), mtls("foo", "sleep", 9090), true, policy.ReasonAllowMatched, "ns/p0"},
		{"fields AND within a match", named(pol(allow, M{Principals: patterns(sleepP), DestinationPorts: []uint16{8080}})), mtls("foo", "other", 8080), false, policy.ReasonNotAllowed, ""},
		{"matches OR within a clause", named(pol(allow, M{Principals: patterns(sleepP)}, M{DestinationPorts: []uint16{8080}})), mtls("foo", "other", 8080), true, policy.ReasonAllowMatched, "ns/p0"},

		// Emptiness.
		{"empty ALLOW is deny-all", named(rules(allow)), mtls("foo", "sleep", 80), false, policy.ReasonNotAllowed, ""},
		{"empty DENY never matches", named(rules(deny)), plain(80), true, policy.ReasonNoAllowPolicies, ""},
		{"rule without clauses is allow-all", named(rules(allow, rule())), plain(80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"clause without matches holds", named(rules(allow, policy.Rule{Clauses: []policy.Clause{{}}})), plain(80), true, policy.ReasonAllowMatched, "ns/p0"},
		{"empty match is skipped", named(pol(allow, M{})), plain(80), false, policy.ReasonNotAllowed, ""},

		// Ordering.
		{"DENY before ALLOW", named(allowSleep(), pol(deny, M{DestinationPorts: []uint16{80}})), mtls("foo", "sleep", 80), false, policy.ReasonExplicitlyDenied, "ns/p1"},
		{"second ALLOW matches", named(pol(allow, M{DestinationPorts: []uint16{1}}), allowSleep()), mtls("foo", "sleep", 80), true, policy.ReasonAllowMatched, "ns/p1"},
		{"first matching DENY named", named(pol(deny, M{DestinationPorts: []uint16{80}}), strict()), plain(80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"AUDIT alone never decides", named(pol(audit, M{DestinationPorts: []uint16{80}})), plain(80), true, policy.ReasonNoAllowPolicies, ""},
		{"AUDIT does not count as ALLOW", named(pol(audit, M{DestinationPorts: []uint16{80}}), pol(allow, M{DestinationPorts: []uint16{1}})), plain(80), false, policy.ReasonNotAllowed, ""},
		{"CUSTOM match fails closed", named(pol(custom, M{DestinationPorts: []uint16{80}}), allowSleep()), mtls("foo", "sleep", 80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"CUSTOM no match", named(pol(custom, M{DestinationPorts: []uint16{1}}), allowSleep()), mtls("foo", "sleep", 80), true, policy.ReasonAllowMatched, "ns/p1"},

		// Dry run and unknown policies.
		{"dry-run DENY does not decide", named(dry(strict())), plain(80), true, policy.ReasonNoAllowPolicies, ""},
		{"dry-run ALLOW does not count", named(dry(allowSleep())), plain(80), true, policy.ReasonNoAllowPolicies, ""},
		{"unknown policy fails closed", []*policy.Policy{nil}, mtls("foo", "sleep", 80), false, policy.ReasonUnknownPolicy, ""},

		// L7 fields without a request fail closed; with one they are evaluated.
		{"L7 ALLOW at L4 never matches", named(pol(allow, M{Methods: []string{"GET"}})), mtls("foo", "sleep", 80), false, policy.ReasonNotAllowed, ""},
		{"L7 DENY at L4 enforced without L7", named(pol(deny, M{Methods: []string{"GET"}, DestinationPorts: []uint16{80}})), mtls("foo", "sleep", 80), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"L7 DENY at L4 keeps L4 parts", named(pol(deny, M{Methods: []string{"GET"}, DestinationPorts: []uint16{80}})), mtls("foo", "sleep", 81), true, policy.ReasonNoAllowPolicies, ""},
		{"L7 DENY other method", named(pol(deny, M{Methods: []string{"GET"}})), withReq(policy.Request{Method: "POST"}, plain(80)), true, policy.ReasonNoAllowPolicies, ""},
		{"L7 method case-sensitive", named(pol(deny, M{Methods: []string{"GET"}})), withReq(policy.Request{Method: "get"}, plain(80)), true, policy.ReasonNoAllowPolicies, ""},
		{"L7 path prefix", named(pol(allow, M{Paths: patterns("/api/*")})), withReq(policy.Request{Path: "/api/x"}, plain(80)), true, policy.ReasonAllowMatched, "ns/p0"},
		{"L7 notPaths", named(pol(allow, M{NotPaths: patterns("/admin*")})), withReq(policy.Request{Path: "/admin/x"}, plain(80)), false, policy.ReasonNotAllowed, ""},
		{"L7 host case-insensitive", named(pol(allow, M{Hosts: patterns("Example.com")})), withReq(policy.Request{Host: "example.COM"}, plain(80)), true, policy.ReasonAllowMatched, "ns/p0"},
		{"L7 header any value", named(pol(deny, M{Headers: []policy.HeaderMatch{{Name: "X-A", Values: patterns("bad")}}})),
			withReq(policy.Request{Headers: map[string][]string{"x-a": {"ok", "bad"}}}, plain(80)), false, policy.ReasonExplicitlyDenied, "ns/p0"},
		{"L7 header not comma-joined", named(pol(deny, M{Headers: []policy.HeaderMatch{{Name: "x-a", Values: patterns("ok,bad")}}})),
			withReq(policy.Request{Headers: map[string][]string{"x-a": {"ok", "bad"}}}, plain(80)), true, policy.ReasonNoAllowPolicies, ""},
		{"L7 header absent fails Values", named(pol(allow, M{Headers: []policy.HeaderMatch{{Name: "x-a", Values: patterns("*")}}})),
			withReq(policy.Request{}, plain(80)), false, policy.ReasonNotAllowed, ""},
		{"L7 requestPrincipals without token", named(pol(allow, M{RequestPrincipals: patterns("*")})), withReq(policy.Request{}, plain(80)), false, policy.ReasonNotAllowed, ""},
		{"L7 requestPrincipals with token", named(pol(allow, M{RequestPrincipals: patterns("https://iss/*")})), withReq(policy.Request{RequestPrincipal: "https://iss/alice"}, plain(80)), true, policy.ReasonAllowMatched, "ns/p0"},
		{"L7 remoteIpBlocks defaults to source", named(pol(allow, M{RemoteIPs: cidrs("10.0.0.0/8")})), withReq(policy.Request{}, plain(80)), true, policy.ReasonAllowMatched, "ns/p0"},
		{"L7 remoteIpBlocks uses remote", named(pol(allow, M{RemoteIPs: cidrs("10.0.0.0/8")})), withReq(policy.Request{RemoteIP: netip.MustParseAddr("10.9.9.9")}, from("192.168.0.1", plain(80))), true, policy.ReasonAllowMatched, "ns/p0"},
	}
	if len(tests) < 40 {
		t.Fatalf("table shrank to %d rows", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policy.Evaluate(tt.policies, tt.attrs)
			if got.Allowed != tt.allowed || got.Reason != tt.reason || got.Policy != tt.by {
				t.Errorf("got %+v (%q), want allowed=%v reason=%v policy=%q", got.Verdict, got.Text(), tt.allowed, tt.reason, tt.by)
			}
			if got.Allowed != (got.Reason == policy.ReasonNoAllowPolicies || got.Reason == policy.ReasonAllowMatched) {
				t.Errorf("Allowed=%v inconsistent with reason %v", got.Allowed, got.Reason)
			}
		})
	}
}

func TestEvaluateDryRun(t *testing.T) {
	tests := []struct {
		name      string
		policies  []*policy.Policy
		attrs     *policy.Attributes
		hasDryRun bool
		dryRun    policy.Verdict
	}{
		{"no dry-run policies", named(pol(deny, M{DestinationPorts: []uint16{80}})), plain(80), false, policy.Verdict{}},
		{"dry-run DENY would deny", named(dry(pol(deny, M{NotPrincipals: sm(policy.Presence())}))), plain(80), true,
			policy.Verdict{Policy: "ns/p0", Reason: policy.ReasonExplicitlyDenied}},
		{"dry-run ALLOW would not allow", named(dry(pol(allow, M{DestinationPorts: []uint16{1}}))), plain(80), true,
			policy.Verdict{Reason: policy.ReasonNotAllowed}},
		{"dry-run ALLOW would allow", named(dry(pol(allow, M{DestinationPorts: []uint16{80}}))), plain(80), true,
			policy.Verdict{Allowed: true, Policy: "ns/p0", Reason: policy.ReasonAllowMatched}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policy.Evaluate(tt.policies, tt.attrs)
			if got.HasDryRun != tt.hasDryRun || got.DryRun != tt.dryRun {
				t.Errorf("got dry-run %v %+v, want %v %+v", got.HasDryRun, got.DryRun, tt.hasDryRun, tt.dryRun)
			}
			if tt.hasDryRun && !got.Allowed {
				t.Errorf("dry-run policy decided: %+v", got.Verdict)
			}
		})
	}
}

func TestReasonText(t *testing.T) {
	tests := []struct {
		v    policy.Verdict
		want string
	}{
		{policy.Verdict{Reason: policy.ReasonNotAllowed}, "allow policies exist, but none allowed"},
		{policy.Verdict{Reason: policy.ReasonExplicitlyDenied, Policy: "istio-system/istio_converted_static_strict"}, "explicitly denied by: istio-system/istio_converted_static_strict"},
		{policy.Verdict{Reason: policy.ReasonUnknownPolicy, Policy: "foo/bar"}, "unknown policy referenced: foo/bar"},
		{policy.Verdict{Allowed: true, Reason: policy.ReasonNoAllowPolicies}, "no allow policies, allow"},
	}
	for _, tt := range tests {
		if got := tt.v.Text(); got != tt.want {
			t.Errorf("Text() = %q, want %q", got, tt.want)
		}
	}
}
