package authz

import "fmt"

// Warning is a status condition istiod would write on the policy (reason
// "UnsupportedValue" upstream). Policies with a warning may still be sent.
type Warning struct {
	Kind      string // "AuthorizationPolicy" or "PeerAuthentication"
	Namespace string
	Name      string
	Reason    string
	Message   string
}

func (w Warning) String() string {
	return fmt.Sprintf("%s %s/%s: %s: %s", w.Kind, w.Namespace, w.Name, w.Reason, w.Message)
}

const (
	kindAuthorizationPolicy = "AuthorizationPolicy"
	kindPeerAuthentication  = "PeerAuthentication"
	reasonUnsupportedValue  = "UnsupportedValue"
)

// Upstream status texts, verbatim (istio `authorization.go` l.482-488).
const (
	httpRuleFmt = "ztunnel does not support HTTP attributes (found: %s). " +
		"In ambient mode you must use a waypoint proxy to enforce HTTP rules. %s"
	httpDenyRuleBoilerplate = "DENY policy with HTTP attributes is enforced without the HTTP rules. " +
		"This will be more restrictive than requested."
	httpAllowRuleBoilerplate = "Within an ALLOW policy, rules matching HTTP attributes are omitted. " +
		"This will be more restrictive than requested."
	unsupportedActionFmt = "ztunnel does not support the %s action"
	dryRunDisabledFmt    = "found policy \"%s/%s\" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled"
)
