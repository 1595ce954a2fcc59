package ca

import (
	"fmt"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// DenyReason is why an impersonation request was refused (closed set; it
// is logged and asserted in tests, never sent to the caller).
type DenyReason string

const (
	DenyNotNodeAccount     DenyReason = "caller-not-node-account"
	DenyUnboundNode        DenyReason = "bootstrap-not-bound-to-node"
	DenyBadIdentity        DenyReason = "malformed-impersonated-identity"
	DenyForeignTrustDomain DenyReason = "foreign-trust-domain"
	DenyNotOnNode          DenyReason = "identity-not-on-node"

	// Pod-bound credentials (authorizePod).
	DenyPodUnbound        DenyReason = "pod-credential-not-bound"
	DenyPodOtherIdentity  DenyReason = "identity-not-the-bound-pods"
	DenyPodNotInTopology  DenyReason = "bound-pod-not-in-topology"
	DenyPodReplaced       DenyReason = "bound-pod-replaced"
	DenyPodAccountChanged DenyReason = "bound-pod-service-account-changed"
)

// DenyError is an authorization refusal.
type DenyError struct {
	Reason    DenyReason
	Requested string
	Node      string
	Pod       string // namespace/name, for a pod-bound credential
}

func (e *DenyError) Error() string {
	if e.Pod != "" {
		return fmt.Sprintf("ca: certificate for %q denied (credential of pod %q): %s", e.Requested, e.Pod, e.Reason)
	}
	return fmt.Sprintf("ca: impersonation of %q denied (node %q): %s", e.Requested, e.Node, e.Reason)
}

// PodAuthorizer answers "which pod is namespace/name right now?" for
// pod-bound credentials. Like NodeAuthorizer it is asked on every request.
type PodAuthorizer interface {
	CurrentPod(namespace, name string) (PodRef, bool)
}

// authorizePod decides for a pod bootstrap credential (a waypoint's): the
// one identity it is bound to, requested with or without impersonation
// metadata naming that same identity, and only while the bound pod exists
// with the same UID and service account. The CSR's SAN plays no part.
func (s *Server) authorizePod(caller identity.Identity, bound PodRef, impersonated string) (identity.Identity, error) {
	requested := impersonated
	if requested == "" {
		requested = caller.String()
	}
	deny := func(r DenyReason) error { return &DenyError{Reason: r, Requested: requested, Pod: bound.Key()} }
	if bound.isZero() {
		return identity.Identity{}, deny(DenyPodUnbound)
	}
	if caller != bound.Identity {
		return identity.Identity{}, deny(DenyPodOtherIdentity)
	}
	if impersonated != "" {
		if want, err := identity.Parse(impersonated); err != nil || want != bound.Identity {
			return identity.Identity{}, deny(DenyPodOtherIdentity)
		}
	}
	if s.opts.Pods == nil {
		return identity.Identity{}, deny(DenyPodNotInTopology)
	}
	cur, ok := s.opts.Pods.CurrentPod(bound.Namespace, bound.Name)
	switch {
	case !ok:
		return identity.Identity{}, deny(DenyPodNotInTopology)
	case bound.UID != "" && cur.UID != bound.UID:
		return identity.Identity{}, deny(DenyPodReplaced)
	case cur.Identity != bound.Identity:
		return identity.Identity{}, deny(DenyPodAccountChanged)
	}
	return bound.Identity, nil
}

// authorize returns the identity to put in the certificate. Without
// impersonation that is the caller itself. With it, the caller must be the
// node account holding a bootstrap certificate bound to a node, the
// requested identity must be an Istio SPIFFE ID of our trust domain, and a
// pod running as it must be on that node right now (istio node_auth.go
// authenticateImpersonation).
func (s *Server) authorize(caller identity.Identity, node, impersonated string) (identity.Identity, error) {
	if impersonated == "" {
		return caller, nil
	}
	deny := func(r DenyReason) error { return &DenyError{Reason: r, Requested: impersonated, Node: node} }
	if caller != s.opts.CA.NodeAccount() {
		return identity.Identity{}, deny(DenyNotNodeAccount)
	}
	if node == "" {
		return identity.Identity{}, deny(DenyUnboundNode)
	}
	want, err := identity.Parse(impersonated)
	if err != nil {
		return identity.Identity{}, deny(DenyBadIdentity)
	}
	if want.TrustDomain != s.opts.CA.TrustDomain() {
		return identity.Identity{}, deny(DenyForeignTrustDomain)
	}
	if !s.opts.Authorizer.IdentityOnNode(node, want) {
		return identity.Identity{}, deny(DenyNotOnNode)
	}
	return want, nil
}
