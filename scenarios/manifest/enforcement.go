package manifest

import (
	typev1beta1 "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// notEnforcedReason says why a deferred kind is accepted but has no effect
// in the simulator yet, or "" when the reference data plane enforces it.
//
// The reference ztunnel enforces L4 AuthorizationPolicy (ALLOW/DENY, selector
// or namespace scoped) and PeerAuthentication for workloads captured in
// ambient mode. The reference waypoint (deployed from a waypoint Gateway)
// enforces AuthorizationPolicies and RequestAuthentications attached with
// targetRefs to a Gateway, the istio-waypoint GatewayClass or a Service, and
// routes HTTPRoutes and TCPRoutes whose parent is a Service, and VirtualServices. CUSTOM and
// AUDIT actions, other Gateways and every other kind are accepted only.
func notEnforcedReason(obj Object) string {
	switch o := obj.Obj.(type) {
	case *securityv1.PeerAuthentication, *securityv1beta1.PeerAuthentication:
		return ""
	case *securityv1.AuthorizationPolicy:
		return authorizationPolicyReason(o.Spec.GetAction().String(), targetRefs(o.Spec.GetTargetRefs(), o.Spec.GetTargetRef()))
	case *securityv1beta1.AuthorizationPolicy:
		return authorizationPolicyReason(o.Spec.GetAction().String(), targetRefs(o.Spec.GetTargetRefs(), o.Spec.GetTargetRef()))
	case *securityv1.RequestAuthentication:
		return requestAuthenticationReason(targetRefs(o.Spec.GetTargetRefs(), o.Spec.GetTargetRef()))
	case *securityv1beta1.RequestAuthentication:
		return requestAuthenticationReason(targetRefs(o.Spec.GetTargetRefs(), o.Spec.GetTargetRef()))
	case *gatewayv1.Gateway, *gatewayv1beta1.Gateway:
		if _, _, ok := isWaypointGateway(obj); ok {
			return ""
		}
		return "accepted, not yet enforced: only waypoint Gateways (gatewayClassName istio-waypoint) are deployed; ingress Gateways are not"
	case *gatewayv1.GatewayClass:
		if o.Name == WaypointGatewayClass {
			return "" // built in; its istio.io/waypoint-for label is read
		}
	case *gatewayv1beta1.GatewayClass:
		if o.Name == WaypointGatewayClass {
			return ""
		}
	case *gatewayv1.HTTPRoute:
		return routeReason(o.Spec.ParentRefs)
	case *gatewayv1beta1.HTTPRoute:
		return routeReason(o.Spec.ParentRefs)
	case *gatewayv1.TCPRoute:
		return routeReason(o.Spec.ParentRefs) // TCP services behind a waypoint: proxied at L4 by its TCPRoutes
	case *networkingv1.VirtualService, *networkingv1beta1.VirtualService, *networkingv1alpha3.VirtualService:
		return "" // applied by the waypoint of the hosts' Services
	}
	return "accepted, not yet enforced"
}

func targetRefs(refs []*typev1beta1.PolicyTargetReference, single *typev1beta1.PolicyTargetReference) []*typev1beta1.PolicyTargetReference {
	if single != nil {
		return append(append([]*typev1beta1.PolicyTargetReference{}, refs...), single)
	}
	return refs
}

// waypointTargetKind reports whether a targetRef names something a waypoint
// enforces for: a Gateway, the GatewayClass, or a Service.
func waypointTargetKind(r *typev1beta1.PolicyTargetReference) bool {
	switch {
	case r.GetGroup() == gatewayv1.GroupName && (r.GetKind() == "Gateway" || r.GetKind() == "GatewayClass"):
		return true
	case (r.GetGroup() == "" || r.GetGroup() == "core") && r.GetKind() == "Service":
		return true
	}
	return false
}

func authorizationPolicyReason(action string, refs []*typev1beta1.PolicyTargetReference) string {
	if len(refs) == 0 {
		if action == "CUSTOM" || action == "AUDIT" {
			return "accepted, not enforced: ztunnel does not support the " + action + " action"
		}
		return ""
	}
	for _, r := range refs {
		if !waypointTargetKind(r) {
			return "accepted, not yet enforced for targetRef " + r.GetGroup() + "/" + r.GetKind() + " " + r.GetName() +
				": waypoints enforce policies attached to a Gateway, the istio-waypoint GatewayClass or a Service"
		}
	}
	switch action {
	case "CUSTOM":
		return "accepted, partly enforced: the reference waypoint has no external authorizer, so CUSTOM denies whatever it matches"
	case "AUDIT":
		return "accepted, not enforced: AUDIT never decides and the reference waypoint has no audit log"
	}
	return ""
}

func requestAuthenticationReason(refs []*typev1beta1.PolicyTargetReference) string {
	if len(refs) == 0 {
		return "accepted, not enforced: in ambient mode RequestAuthentication is enforced by waypoints only; attach it with targetRefs (istio#45502)"
	}
	for _, r := range refs {
		if !waypointTargetKind(r) {
			return "accepted, not yet enforced for targetRef " + r.GetGroup() + "/" + r.GetKind() + " " + r.GetName()
		}
	}
	return ""
}

// routeReason: GAMMA routes (parentRef a Service) are the waypoint's;
// routes attached to ingress Gateways are not enforced.
func routeReason(parents []gatewayv1.ParentReference) string {
	for _, p := range parents {
		group, kind := gatewayv1.GroupName, "Gateway"
		if p.Group != nil {
			group = string(*p.Group)
		}
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		if kind != "Service" || (group != "" && group != "core") {
			return "accepted, not yet enforced: routes attached to a " + kind + " (ingress) are not; routes with a Service parentRef are applied by its waypoint"
		}
	}
	if len(parents) == 0 {
		return "accepted, not yet enforced: a route without parentRefs attaches to nothing"
	}
	return ""
}
