package authz

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/istio/pkg/workloadapi/security"
)

func TestConvertAuthorizationPolicy(t *testing.T) {
	allowSleep := &v1beta1.AuthorizationPolicy{
		Selector: sel("app", "httpbin"),
		Rules:    []*v1beta1.Rule{{From: fromSrc(&v1beta1.Source{Principals: []string{"cluster.local/ns/foo/sa/sleep"}})}},
	}
	fromSleep := one(&security.Match{Principals: []*security.StringMatch{exact("cluster.local/ns/foo/sa/sleep")}})
	denyNsGET := &v1beta1.AuthorizationPolicy{
		Action: v1beta1.AuthorizationPolicy_DENY,
		Rules: []*v1beta1.Rule{{
			From: fromSrc(&v1beta1.Source{Namespaces: []string{"evil"}}),
			To:   toOp(&v1beta1.Operation{Methods: []string{"GET"}}),
		}},
	}
	fromEvil := one(&security.Match{Namespaces: []*security.StringMatch{exact("evil")}})
	const allowL7 = "ztunnel does not support HTTP attributes (found: methods). In ambient mode you must use a waypoint proxy to enforce HTTP rules. " +
		"Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested."
	const denyL7 = "ztunnel does not support HTTP attributes (found: methods). In ambient mode you must use a waypoint proxy to enforce HTTP rules. " +
		"DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested."

	tests := []struct {
		name     string
		cfg      Config
		in       *securityv1.AuthorizationPolicy
		want     *security.Authorization // nil: not sent
		wantWarn string                  // "" : none
	}{
		{"selector ALLOW principals", Config{}, ap("foo", "allow-sleep", allowSleep),
			&security.Authorization{Name: "allow-sleep", Namespace: "foo", Scope: security.Scope_WORKLOAD_SELECTOR, Groups: []*security.Group{group(fromSleep)}}, ""},
		{"no selector is NAMESPACE", Config{}, ap("foo", "ns", &v1beta1.AuthorizationPolicy{Rules: allowSleep.Rules}),
			&security.Authorization{Name: "ns", Namespace: "foo", Scope: security.Scope_NAMESPACE, Groups: []*security.Group{group(fromSleep)}}, ""},
		{"root namespace is GLOBAL", Config{}, ap(root, "g", &v1beta1.AuthorizationPolicy{Rules: allowSleep.Rules}),
			&security.Authorization{Name: "g", Namespace: root, Scope: security.Scope_GLOBAL, Groups: []*security.Group{group(fromSleep)}}, ""},
		{"custom root namespace", Config{RootNamespace: "mesh-root"}, ap("mesh-root", "g", &v1beta1.AuthorizationPolicy{}),
			&security.Authorization{Name: "g", Namespace: "mesh-root", Scope: security.Scope_GLOBAL}, ""},
		{"root namespace with selector", Config{}, ap(root, "s", allowSleep),
			&security.Authorization{Name: "s", Namespace: root, Scope: security.Scope_WORKLOAD_SELECTOR, Groups: []*security.Group{group(fromSleep)}}, ""},
		{"CUSTOM not sent", Config{}, ap("foo", "c", &v1beta1.AuthorizationPolicy{Action: v1beta1.AuthorizationPolicy_CUSTOM}), nil,
			"ztunnel does not support the CUSTOM action"},
		{"AUDIT not sent", Config{}, ap("foo", "a", &v1beta1.AuthorizationPolicy{Action: v1beta1.AuthorizationPolicy_AUDIT}), nil,
			"ztunnel does not support the AUDIT action"},
		{"targetRefs go to the waypoint only", Config{}, ap("foo", "t", &v1beta1.AuthorizationPolicy{
			TargetRefs: []*typev1beta1.PolicyTargetReference{{Kind: "Service", Name: "httpbin"}}, Rules: allowSleep.Rules}), nil, ""},
		{"deprecated targetRef too", Config{}, ap("foo", "t", &v1beta1.AuthorizationPolicy{
			TargetRef: &typev1beta1.PolicyTargetReference{Kind: "Gateway", Name: "waypoint"}}), nil, ""},
		{"empty ALLOW is allow-nothing", Config{}, ap("foo", "none", &v1beta1.AuthorizationPolicy{}),
			&security.Authorization{Name: "none", Namespace: "foo", Scope: security.Scope_NAMESPACE}, ""},
		{"empty rule is allow-all", Config{}, ap("foo", "all", &v1beta1.AuthorizationPolicy{Rules: []*v1beta1.Rule{{}}}),
			&security.Authorization{Name: "all", Namespace: "foo", Scope: security.Scope_NAMESPACE, Groups: []*security.Group{group()}}, ""},
		{"L7 ALLOW rule omitted: allow-nothing", Config{}, ap("foo", "l7", &v1beta1.AuthorizationPolicy{
			Rules: []*v1beta1.Rule{{From: allowSleep.Rules[0].From, To: toOp(&v1beta1.Operation{Methods: []string{"GET"}})}}}),
			&security.Authorization{Name: "l7", Namespace: "foo", Scope: security.Scope_NAMESPACE}, allowL7},
		{"L7 ALLOW keeps L4 rules", Config{}, ap("foo", "mix", &v1beta1.AuthorizationPolicy{Rules: []*v1beta1.Rule{
			{To: toOp(&v1beta1.Operation{Methods: []string{"GET"}})}, allowSleep.Rules[0]}}),
			&security.Authorization{Name: "mix", Namespace: "foo", Scope: security.Scope_NAMESPACE, Groups: []*security.Group{group(fromSleep)}}, allowL7},
		{"L7 DENY enforced without HTTP clause", Config{}, ap("foo", "d", denyNsGET),
			&security.Authorization{Name: "d", Namespace: "foo", Scope: security.Scope_NAMESPACE, Action: security.Action_DENY,
				Groups: []*security.Group{group(fromEvil)}}, denyL7},
		{"L7 DENY upstream: empty match never fires", Config{UpstreamL7Deny: true}, ap("foo", "d", denyNsGET),
			&security.Authorization{Name: "d", Namespace: "foo", Scope: security.Scope_NAMESPACE, Action: security.Action_DENY,
				Groups: []*security.Group{group(one(&security.Match{}), fromEvil)}}, denyL7},
		{"L7 DENY keeps L4 part of the same entry", Config{}, ap("foo", "d", &v1beta1.AuthorizationPolicy{Action: v1beta1.AuthorizationPolicy_DENY,
			Rules: []*v1beta1.Rule{{To: toOp(&v1beta1.Operation{Ports: []string{"8080"}, Methods: []string{"GET"}})}}}),
			&security.Authorization{Name: "d", Namespace: "foo", Scope: security.Scope_NAMESPACE, Action: security.Action_DENY,
				Groups: []*security.Group{group(one(&security.Match{DestinationPorts: []uint32{8080}}))}}, denyL7},
		{"L7-only DENY becomes deny-all", Config{}, ap("foo", "d", &v1beta1.AuthorizationPolicy{Action: v1beta1.AuthorizationPolicy_DENY,
			Rules: []*v1beta1.Rule{{To: toOp(&v1beta1.Operation{Methods: []string{"GET"}})}}}),
			&security.Authorization{Name: "d", Namespace: "foo", Scope: security.Scope_NAMESPACE, Action: security.Action_DENY,
				Groups: []*security.Group{group()}}, denyL7},
		{"L7 when in DENY dropped", Config{}, ap("foo", "w", &v1beta1.AuthorizationPolicy{Action: v1beta1.AuthorizationPolicy_DENY,
			Rules: []*v1beta1.Rule{{From: denyNsGET.Rules[0].From, When: []*v1beta1.Condition{{Key: "request.headers[x-a]", Values: []string{"b"}}}}}}),
			&security.Authorization{Name: "w", Namespace: "foo", Scope: security.Scope_NAMESPACE, Action: security.Action_DENY,
				Groups: []*security.Group{group(fromEvil)}},
			"ztunnel does not support HTTP attributes (found: request.headers[x-a]). In ambient mode you must use a waypoint proxy to enforce HTTP rules. " +
				"DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested."},
		{"L4 when conditions", Config{}, ap("foo", "w", &v1beta1.AuthorizationPolicy{Rules: []*v1beta1.Rule{{When: []*v1beta1.Condition{
			{Key: "source.ip", Values: []string{"10.0.0.0/8"}, NotValues: []string{"10.1.0.0/16"}},
			{Key: "destination.port", Values: []string{"80"}},
			{Key: "source.principal", NotValues: []string{"*"}},
		}}}}),
			&security.Authorization{Name: "w", Namespace: "foo", Scope: security.Scope_NAMESPACE, Groups: []*security.Group{group(
				one(&security.Match{SourceIps: []*security.Address{{Address: []byte{10, 0, 0, 0}, Length: 8}}, NotSourceIps: []*security.Address{{Address: []byte{10, 1, 0, 0}, Length: 16}}}),
				one(&security.Match{DestinationPorts: []uint32{80}}),
				one(&security.Match{NotPrincipals: []*security.StringMatch{presence()}}),
			)}}, ""},
		{"source fields, patterns, notX", Config{}, ap("foo", "src", &v1beta1.AuthorizationPolicy{Rules: []*v1beta1.Rule{{
			From: fromSrc(&v1beta1.Source{
				Principals: []string{"*", "cluster.local/ns/a/*", "*/sa/b"}, NotPrincipals: []string{"x"},
				Namespaces: []string{"a"}, NotNamespaces: []string{"b*"},
				ServiceAccounts: []string{"sleep", "bar/curl"}, NotServiceAccounts: []string{"evil"},
				IpBlocks: []string{"10.0.0.1", "fd00::/8", "bogus"}, NotIpBlocks: []string{"::ffff:10.0.0.1"},
			}),
			To: toOp(&v1beta1.Operation{Ports: []string{"80", "http", "70000"}, NotPorts: []string{"81"}}),
		}}}),
			&security.Authorization{Name: "src", Namespace: "foo", Scope: security.Scope_NAMESPACE, Groups: []*security.Group{group(
				one(&security.Match{DestinationPorts: []uint32{80}, NotDestinationPorts: []uint32{81}}),
				one(&security.Match{
					Principals: []*security.StringMatch{presence(),
						{MatchType: &security.StringMatch_Prefix{Prefix: "cluster.local/ns/a/"}},
						{MatchType: &security.StringMatch_Suffix{Suffix: "/sa/b"}}},
					NotPrincipals:      []*security.StringMatch{exact("x")},
					Namespaces:         []*security.StringMatch{exact("a")},
					NotNamespaces:      []*security.StringMatch{{MatchType: &security.StringMatch_Prefix{Prefix: "b"}}},
					ServiceAccounts:    []*security.ServiceAccountMatch{{Namespace: "foo", ServiceAccount: "sleep"}, {Namespace: "bar", ServiceAccount: "curl"}},
					NotServiceAccounts: []*security.ServiceAccountMatch{{Namespace: "foo", ServiceAccount: "evil"}},
					SourceIps: []*security.Address{{Address: []byte{10, 0, 0, 1}, Length: 32},
						{Address: append([]byte{0xfd}, make([]byte, 15)...), Length: 8}},
					NotSourceIps: []*security.Address{{Address: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, Length: 128}},
				}),
			)}}, ""},
		{"dry-run disabled: not sent", Config{}, withAnnotation(ap("foo", "dry", allowSleep), "istio.io/dry-run", "true"), nil,
			`found policy "foo/dry" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled`},
		{"dry-run enabled", Config{EnableDryRun: true}, withAnnotation(ap("foo", "dry", allowSleep), "istio.io/dry-run", "true"),
			&security.Authorization{Name: "dry", Namespace: "foo", Scope: security.Scope_WORKLOAD_SELECTOR, DryRun: true, Groups: []*security.Group{group(fromSleep)}}, ""},
		{"dry-run unparsable is not dry-run", Config{}, withAnnotation(ap("foo", "dry", allowSleep), "istio.io/dry-run", "maybe"),
			&security.Authorization{Name: "dry", Namespace: "foo", Scope: security.Scope_WORKLOAD_SELECTOR, Groups: []*security.Group{group(fromSleep)}}, ""},
		// Upstream's own status test case (authorization_test.go "unsupported HTTP methods").
		{"found list sorted", Config{}, ap("foo", "u", &v1beta1.AuthorizationPolicy{Rules: []*v1beta1.Rule{{
			From: fromSrc(&v1beta1.Source{RequestPrincipals: []string{"example.com/sub-1"}}),
			To:   toOp(&v1beta1.Operation{Methods: []string{"GET"}}),
			When: []*v1beta1.Condition{{Key: "request.auth.presenter", Values: []string{"presenter.example.com"}}},
		}}}), &security.Authorization{Name: "u", Namespace: "foo", Scope: security.Scope_NAMESPACE},
			"ztunnel does not support HTTP attributes (found: methods, request.auth.presenter, requestPrincipals). " +
				"In ambient mode you must use a waypoint proxy to enforce HTTP rules. " +
				"Within an ALLOW policy, rules matching HTTP attributes are omitted. " +
				"This will be more restrictive than requested."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warn := tt.cfg.convertAuthorizationPolicy(tt.in)
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("authorization (-want +got):\n%s", diff)
			}
			gotWarn := ""
			if warn != nil {
				gotWarn = warn.Message
				if warn.Reason != "UnsupportedValue" || warn.Name != tt.in.Name || warn.Kind != "AuthorizationPolicy" {
					t.Errorf("warning metadata: %+v", warn)
				}
			}
			if gotWarn != tt.wantWarn {
				t.Errorf("warning = %q\nwant      %q", gotWarn, tt.wantWarn)
			}
		})
	}
}

func withAnnotation(p *securityv1.AuthorizationPolicy, k, v string) *securityv1.AuthorizationPolicy {
	p.Annotations = map[string]string{k: v}
	return p
}
