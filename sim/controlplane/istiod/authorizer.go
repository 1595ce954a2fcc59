package istiod

import (
	"sync/atomic"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// podIdentities answers the CA's "does a pod running as id run on node?"
// from the latest input (istio node_auth.go looks the pods up the same way).
type podIdentities struct {
	byNode atomic.Pointer[map[string]map[identity.Identity]bool]
}

func newPodIdentities(c *topology.Cluster) *podIdentities {
	p := &podIdentities{}
	p.update(c)
	return p
}

func (p *podIdentities) update(c *topology.Cluster) {
	m := map[string]map[identity.Identity]bool{}
	for _, pod := range c.Pods {
		sa := pod.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		id := identity.Identity{TrustDomain: c.TrustDomain, Namespace: pod.Namespace, ServiceAccount: sa}
		if m[pod.Node] == nil {
			m[pod.Node] = map[identity.Identity]bool{}
		}
		m[pod.Node][id] = true
	}
	p.byNode.Store(&m)
}

// IdentityOnNode implements ca.NodeAuthorizer.
func (p *podIdentities) IdentityOnNode(node string, id identity.Identity) bool {
	return (*p.byNode.Load())[node][id]
}
