package authz

import (
	"testing"

	"istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// FuzzConvertL7FailClosed checks two properties over arbitrary field values:
// every converted policy is accepted by FromWire, and adding HTTP fields to a
// rule never lets more traffic through at L4 (an ALLOW allows no more, a DENY
// denies exactly as without them: Z7).
func FuzzConvertL7FailClosed(f *testing.F) {
	f.Add(true, "cluster.local/ns/foo/sa/sleep", "foo", "10.0.0.0/8", "80", "evil", uint16(80), false)
	f.Add(false, "*", "*", "10.0.0.5", "8080", "foo", uint16(8080), true)
	f.Add(false, "*/sa/x", "b*", "fd00::/8", "http", "b", uint16(1), false)
	f.Fuzz(func(t *testing.T, isDeny bool, principal, ns, ipBlock, port, srcNs string, dstPort uint16, plaintext bool) {
		if len(stringToPort([]string{port})) == 0 || len(stringToIP([]string{ipBlock})) == 0 {
			// Invalid values are rejected by istiod's validation webhook; upstream
			// conversion drops them, which can empty a match (and make a DENY
			// fail open) independently of HTTP fields.
			t.Skip()
		}
		action := v1beta1.AuthorizationPolicy_ALLOW
		if isDeny {
			action = v1beta1.AuthorizationPolicy_DENY
		}
		build := func(withL7 bool) *securityv1.AuthorizationPolicy {
			src := &v1beta1.Source{Principals: []string{principal}, Namespaces: []string{ns}, IpBlocks: []string{ipBlock}}
			op := &v1beta1.Operation{Ports: []string{port}}
			if withL7 {
				src.RequestPrincipals = []string{"*"}
				op.Methods = []string{"GET"}
			}
			return ap("foo", "p", &v1beta1.AuthorizationPolicy{Action: action,
				Rules: []*v1beta1.Rule{{From: fromSrc(src), To: toOp(op)}}})
		}
		var id *policy.Identity
		if !plaintext {
			id = policy.NewIdentity("cluster.local", srcNs, "sa")
		}
		attrs := conn(id, dstPort)
		decide := func(a *securityv1.AuthorizationPolicy) policy.Decision {
			wire, _ := Convert([]*securityv1.AuthorizationPolicy{a}, nil, root)
			var ps []*policy.Policy
			for _, w := range wire {
				p, err := FromWire(w)
				if err != nil {
					t.Fatalf("FromWire rejected converter output: %v", err)
				}
				ps = append(ps, p)
			}
			return policy.Evaluate(ps, attrs)
		}
		l4, l7 := decide(build(false)), decide(build(true))
		if isDeny && l4.Allowed != l7.Allowed {
			t.Fatalf("DENY with HTTP fields decided %v, without %v", l7.Verdict, l4.Verdict)
		}
		if !isDeny && l7.Allowed && !l4.Allowed {
			t.Fatalf("ALLOW with HTTP fields allowed more: %v vs %v", l7.Verdict, l4.Verdict)
		}
	})
}
