package authz

import (
	typev1beta1 "istio.io/api/type/v1beta1"
)

// WaypointTarget is what one waypoint request is attached to: the waypoint's
// Gateway and the destination Service (ambient-semantics §9-10). targetRefs
// policies go to the waypoint only (istio `authorization.go`: "targetRefs
// policies go to the waypoint"), and apply when they name:
//   - the Gateway (group gateway.networking.k8s.io, kind Gateway) in its
//     namespace;
//   - the GatewayClass istio-waypoint, from the root namespace only;
//   - the destination Service (core group, kind Service) in its namespace.
type WaypointTarget struct {
	GatewayNamespace, GatewayName string
	// ServiceNamespace/ServiceName: "" when the request is not Service-addressed.
	ServiceNamespace, ServiceName string
}

const (
	gatewayGroup         = "gateway.networking.k8s.io"
	waypointGatewayClass = "istio-waypoint"
)

// attaches reports whether a policy in namespace ns with these refs applies.
// A ref naming another namespace is ignored: Istio requires policy and target
// in the same namespace (the field exists for future cross-namespace use).
func (c Config) attaches(ns string, refs []*typev1beta1.PolicyTargetReference, t WaypointTarget) bool {
	for _, r := range refs {
		if r.GetNamespace() != "" && r.GetNamespace() != ns {
			continue
		}
		switch {
		case r.GetGroup() == gatewayGroup && r.GetKind() == "Gateway":
			if ns == t.GatewayNamespace && r.GetName() == t.GatewayName {
				return true
			}
		case r.GetGroup() == gatewayGroup && r.GetKind() == "GatewayClass":
			if ns == c.rootNamespace() && r.GetName() == waypointGatewayClass {
				return true
			}
		case (r.GetGroup() == "" || r.GetGroup() == "core") && r.GetKind() == "Service":
			if t.ServiceName != "" && ns == t.ServiceNamespace && r.GetName() == t.ServiceName {
				return true
			}
		}
	}
	return false
}

// targetRefsOf merges targetRefs with the deprecated singular targetRef.
func targetRefsOf(refs []*typev1beta1.PolicyTargetReference, single *typev1beta1.PolicyTargetReference) []*typev1beta1.PolicyTargetReference {
	if single != nil {
		return append(append([]*typev1beta1.PolicyTargetReference{}, refs...), single)
	}
	return refs
}
