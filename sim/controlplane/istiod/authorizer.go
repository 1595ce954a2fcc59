package istiod

import (
	"sync/atomic"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/sim/controlplane/ca"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// Labels of a waypoint pod (set by whoever deploys the Gateway's pods).
const (
	componentLabel     = "ambientlab.io/component"
	componentWaypoint  = "waypoint"
	gatewayNameLabel   = "gateway.networking.k8s.io/gateway-name"
	defaultServiceAcct = "default"
)

// IsWaypoint reports whether p is a waypoint pod: it gets a pod-bound
// credential of its own.
func IsWaypoint(p topology.Pod) bool {
	return p.Labels[componentLabel] == componentWaypoint && p.Labels[gatewayNameLabel] != ""
}

// podIdentity is the identity a pod runs as.
func podIdentity(trustDomain string, p topology.Pod) identity.Identity {
	sa := p.ServiceAccount
	if sa == "" {
		sa = defaultServiceAcct
	}
	return identity.Identity{TrustDomain: trustDomain, Namespace: p.Namespace, ServiceAccount: sa}
}

// podIdentities answers the CA from the latest input: "does a pod running
// as id run on node?" (istio node_auth.go looks the pods up the same way)
// and "which pod is namespace/name now?" for pod-bound credentials.
//
// One deliberate difference from istio's node authorizer, which counts
// every pod on the node: a waypoint pod that is not captured (waypoints
// are labelled dataplane-mode none) does not count. ztunnel never serves
// it, so its node has no business holding its identity; the waypoint gets
// its certificate with its own pod-bound credential instead. A captured
// waypoint counts like any pod, as does any other pod sharing its SA.
type podIdentities struct {
	state atomic.Pointer[podIndex]
}

type podIndex struct {
	byNode map[string]map[identity.Identity]bool
	byKey  map[string]ca.PodRef
}

var (
	_ ca.NodeAuthorizer = (*podIdentities)(nil)
	_ ca.PodAuthorizer  = (*podIdentities)(nil)
)

func newPodIdentities(c *topology.Cluster) *podIdentities {
	p := &podIdentities{}
	p.update(c)
	return p
}

func (p *podIdentities) update(c *topology.Cluster) {
	captured := Captured(c)
	idx := &podIndex{byNode: map[string]map[identity.Identity]bool{}, byKey: map[string]ca.PodRef{}}
	for _, pod := range c.Pods {
		id := podIdentity(c.TrustDomain, pod)
		idx.byKey[pod.Key()] = ca.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Identity: id}
		if _, ok := captured[pod.Key()]; IsWaypoint(pod) && !ok {
			continue
		}
		if idx.byNode[pod.Node] == nil {
			idx.byNode[pod.Node] = map[identity.Identity]bool{}
		}
		idx.byNode[pod.Node][id] = true
	}
	p.state.Store(idx)
}

// IdentityOnNode implements ca.NodeAuthorizer.
func (p *podIdentities) IdentityOnNode(node string, id identity.Identity) bool {
	return p.state.Load().byNode[node][id]
}

// CurrentPod implements ca.PodAuthorizer.
func (p *podIdentities) CurrentPod(namespace, name string) (ca.PodRef, bool) {
	r, ok := p.state.Load().byKey[namespace+"/"+name]
	return r, ok
}
