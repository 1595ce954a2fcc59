package authz

import (
	"net/netip"
	"testing"

	"istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// decideE2E runs the whole pure pipeline: CRDs → protos (what istiod sends) →
// FromWire (ztunnel's xDS edge) → Snapshot → the destination workload's refs →
// Decide.
func decideE2E(t *testing.T, aps []*securityv1.AuthorizationPolicy, pas []*securityv1.PeerAuthentication,
	podNs string, podLabels map[string]string, attrs *policy.Attributes,
) policy.Decision {
	t.Helper()
	cfg := Config{RootNamespace: root}
	wire, _ := cfg.Convert(aps, pas)
	var ps []*policy.Policy
	for _, a := range wire {
		p, err := FromWire(a)
		if err != nil {
			t.Fatalf("FromWire(%s/%s): %v", a.Namespace, a.Name, err)
		}
		ps = append(ps, p)
	}
	snap, err := policy.NewSnapshot(ps)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Decide(podNs, cfg.WorkloadPolicyRefs(aps, pas, podNs, podLabels), attrs)
}

func conn(id *policy.Identity, port uint16) *policy.Attributes {
	return &policy.Attributes{SourceIP: netip.MustParseAddr("10.0.0.5"), Source: id,
		DestinationIP: netip.MustParseAddr("10.0.1.7"), DestinationPort: port}
}

func sa(ns, name string) *policy.Identity { return policy.NewIdentity("cluster.local", ns, name) }

func TestEndToEnd(t *testing.T) {
	allowSleep := ap("foo", "allow-sleep", &v1beta1.AuthorizationPolicy{
		Selector: sel("app", "httpbin"),
		Rules:    []*v1beta1.Rule{{From: fromSrc(&v1beta1.Source{Principals: []string{"cluster.local/ns/foo/sa/sleep"}})}},
	})
	meshStrict := pa(root, "default", 0, strict, nil, nil)
	permissivePort := pa("foo", "httpbin-ports", 1, unset, []string{"app", "httpbin"}, map[uint32]mtlsMode{8080: permissive})
	denyNs := ap("bar", "deny-evil", &v1beta1.AuthorizationPolicy{
		Action: v1beta1.AuthorizationPolicy_DENY,
		Rules:  []*v1beta1.Rule{{From: fromSrc(&v1beta1.Source{Namespaces: []string{"evil"}})}},
	})
	rootAllowNothing := ap(root, "allow-nothing", &v1beta1.AuthorizationPolicy{})
	denyL7 := ap("foo", "deny-get", &v1beta1.AuthorizationPolicy{
		Action: v1beta1.AuthorizationPolicy_DENY,
		Rules: []*v1beta1.Rule{{
			From: fromSrc(&v1beta1.Source{Namespaces: []string{"evil"}}),
			To:   toOp(&v1beta1.Operation{Methods: []string{"GET"}}),
		}},
	})
	other := map[string]string{"app": "other"}

	type aps = []*securityv1.AuthorizationPolicy
	type pas = []*securityv1.PeerAuthentication
	tests := []struct {
		name    string
		aps     aps
		pas     pas
		podNs   string
		labels  map[string]string
		attrs   *policy.Attributes
		allowed bool
		text    string
	}{
		{"ALLOW sleep: sleep allowed", aps{allowSleep}, nil, "foo", httpbin, conn(sa("foo", "sleep"), 80), true, "allow policy match: foo/allow-sleep"},
		{"ALLOW sleep: other SA denied", aps{allowSleep}, nil, "foo", httpbin, conn(sa("foo", "other"), 80), false, "allow policies exist, but none allowed"},
		{"ALLOW sleep: plaintext denied", aps{allowSleep}, nil, "foo", httpbin, conn(nil, 80), false, "allow policies exist, but none allowed"},
		{"ALLOW sleep: unselected pod unaffected", aps{allowSleep}, nil, "foo", other, conn(nil, 80), true, "no allow policies, allow"},
		{"STRICT: plaintext denied", nil, pas{meshStrict}, "foo", httpbin, conn(nil, 80), false, "explicitly denied by: istio-system/istio_converted_static_strict"},
		{"STRICT: mTLS allowed", nil, pas{meshStrict}, "foo", httpbin, conn(sa("bar", "x"), 80), true, "no allow policies, allow"},
		{"STRICT + PERMISSIVE port: plaintext on that port allowed", nil, pas{meshStrict, permissivePort}, "foo", httpbin, conn(nil, 8080), true, "no allow policies, allow"},
		{"STRICT + PERMISSIVE port: plaintext elsewhere denied", nil, pas{meshStrict, permissivePort}, "foo", httpbin, conn(nil, 9090), false, "explicitly denied by: foo/converted_peer_authentication_httpbin-ports"},
		{"STRICT + PERMISSIVE port: other pods stay STRICT", nil, pas{meshStrict, permissivePort}, "foo", other, conn(nil, 8080), false, "explicitly denied by: istio-system/istio_converted_static_strict"},
		{"namespace DENY: evil denied", aps{denyNs}, nil, "bar", other, conn(sa("evil", "x"), 80), false, "explicitly denied by: bar/deny-evil"},
		{"namespace DENY: others allowed", aps{denyNs}, nil, "bar", other, conn(sa("good", "x"), 80), true, "no allow policies, allow"},
		{"namespace DENY: other namespace unaffected", aps{denyNs}, nil, "foo", other, conn(sa("evil", "x"), 80), true, "no allow policies, allow"},
		{"root policy applies everywhere", aps{rootAllowNothing}, nil, "anywhere", other, conn(sa("foo", "sleep"), 80), false, "allow policies exist, but none allowed"},
		{"root policy + selector ALLOW", aps{rootAllowNothing, allowSleep}, nil, "foo", httpbin, conn(sa("foo", "sleep"), 80), true, "allow policy match: foo/allow-sleep"},
		{"L7 DENY enforced without HTTP parts (Z7)", aps{denyL7}, nil, "foo", other, conn(sa("evil", "x"), 80), false, "explicitly denied by: foo/deny-get"},
		{"L7 DENY keeps its L4 part", aps{denyL7}, nil, "foo", other, conn(sa("good", "x"), 80), true, "no allow policies, allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideE2E(t, tt.aps, tt.pas, tt.podNs, tt.labels, tt.attrs)
			if d.Allowed != tt.allowed || d.Text() != tt.text {
				t.Errorf("got allowed=%v %q, want allowed=%v %q", d.Allowed, d.Text(), tt.allowed, tt.text)
			}
		})
	}
}

// TestUpstreamL7DenyIsNoOp documents istio/istio#61126 with the byte-exact
// conversion: the HTTP-only clause becomes an empty match and the DENY never fires.
func TestUpstreamL7DenyIsNoOp(t *testing.T) {
	denyL7 := ap("foo", "deny-get", &v1beta1.AuthorizationPolicy{
		Action: v1beta1.AuthorizationPolicy_DENY,
		Rules:  []*v1beta1.Rule{{To: toOp(&v1beta1.Operation{Methods: []string{"GET"}})}},
	})
	wire, _ := Config{UpstreamL7Deny: true}.Convert([]*securityv1.AuthorizationPolicy{denyL7}, nil)
	p, err := FromWire(wire[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := policy.Evaluate([]*policy.Policy{p}, conn(sa("evil", "x"), 80)); !d.Allowed {
		t.Errorf("upstream form unexpectedly enforced: %+v", d)
	}
	wire, _ = Config{}.Convert([]*securityv1.AuthorizationPolicy{denyL7}, nil)
	if p, err = FromWire(wire[0]); err != nil {
		t.Fatal(err)
	}
	if d := policy.Evaluate([]*policy.Policy{p}, conn(sa("evil", "x"), 80)); d.Allowed {
		t.Errorf("default form must deny (fail closed): %+v", d)
	}
}
