package manifest

import (
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// notEnforcedReason says why a deferred kind is accepted but has no effect
// in the simulator yet, or "" when the reference data plane enforces it.
//
// The reference ztunnel enforces L4 AuthorizationPolicy (ALLOW/DENY, selector
// or namespace scoped) and PeerAuthentication for workloads captured in
// ambient mode. Policies attached with targetRefs belong to waypoints, and
// CUSTOM/AUDIT actions are not sent to ztunnel (as istiod does); those, and
// every other Istio and Gateway API kind, wait for the waypoint and sidecar.
func notEnforcedReason(obj Object) string {
	switch o := obj.Obj.(type) {
	case *securityv1.PeerAuthentication:
		return ""
	case *securityv1.AuthorizationPolicy:
		switch {
		case len(o.Spec.GetTargetRefs()) > 0 || o.Spec.GetTargetRef() != nil:
			return "accepted, not yet enforced: policies attached with targetRefs are enforced by waypoints, which are not implemented yet"
		case o.Spec.GetAction().String() == "CUSTOM" || o.Spec.GetAction().String() == "AUDIT":
			return "accepted, not enforced: ztunnel does not support the " + o.Spec.GetAction().String() + " action"
		}
		return ""
	}
	return "accepted, not yet enforced"
}
