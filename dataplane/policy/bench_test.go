package policy_test

import (
	"fmt"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// benchPolicies is a realistic ztunnel set: the static STRICT DENY, a namespace
// DENY, and n selector ALLOWs of which only the last matches.
func benchPolicies(n int) []*policy.Policy {
	ps := []*policy.Policy{
		scoped("istio-system", "istio_converted_static_strict", policy.ScopeGlobal, deny, M{NotPrincipals: sm(policy.Presence())}),
		scoped("foo", "deny-evil", policy.ScopeNamespace, deny, M{Namespaces: patterns("evil-*")}, M{SourceIPs: cidrs("192.168.0.0/16")}),
	}
	for i := range n {
		ps = append(ps, scoped("foo", fmt.Sprint("allow-", i), policy.ScopeWorkloadSelector, allow,
			M{Principals: patterns(fmt.Sprintf("cluster.local/ns/foo/sa/client-%d", i)), DestinationPorts: []uint16{8080, 9090}}))
	}
	return ps
}

func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		ps := benchPolicies(n)
		if _, err := policy.NewSnapshot(ps); err != nil { // caches keys
			b.Fatal(err)
		}
		a := mtls("foo", fmt.Sprint("client-", n-1), 9090)
		if d := policy.Evaluate(ps, a); !d.Allowed {
			b.Fatalf("benchmark setup denied: %+v", d)
		}
		b.Run(fmt.Sprint("allow-last-of-", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				policy.Evaluate(ps, a)
			}
		})
	}
	ps := benchPolicies(10)
	s, err := policy.NewSnapshot(ps)
	if err != nil {
		b.Fatal(err)
	}
	refs := []string{"foo/allow-0", "foo/allow-5", "foo/allow-9"}
	a := plain(9090)
	b.Run("snapshot-decide-plaintext-denied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Decide("foo", refs, a)
		}
	})
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	ps := benchPolicies(10)
	s, err := policy.NewSnapshot(ps)
	if err != nil {
		t.Fatal(err)
	}
	a := mtls("foo", "client-9", 9090)
	refs := []string{"foo/allow-9"}
	if n := testing.AllocsPerRun(100, func() { s.Decide("foo", refs, a) }); n != 0 {
		t.Errorf("Decide allocates %v times per call", n)
	}
}
