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
)

// DenyError is an authorization refusal.
type DenyError struct {
	Reason    DenyReason
	Requested string
	Node      string
}

func (e *DenyError) Error() string {
	return fmt.Sprintf("ca: impersonation of %q denied (node %q): %s", e.Requested, e.Node, e.Reason)
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
