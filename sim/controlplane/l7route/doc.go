// Package l7route plays istiod's route conversion for waypoints: it turns
// GAMMA HTTPRoutes (parentRef kind Service), VirtualServices whose hosts
// name a Service, and TCPRoutes (parentRef kind Service) into one
// route.Table per Service, resolving every backend reference to its Service
// VIP:port from the topology.
//
// Semantics follow istiod, which converts HTTPRoutes into VirtualServices
// (pilot/pkg/config/kube/gateway/conversion.go convertHTTPRoute) and then
// merges every VirtualService that matches a Service into the waypoint's
// route table in creation order (pilot/pkg/networking/core/listener_waypoint.go
// buildWaypointInboundHTTPRouteConfig, getVirtualServiceForWaypoint). The
// simulator has no creation timestamps, so manifest order is creation order.
//
// Mixing a VirtualService and HTTPRoutes on one Service is unsupported by
// Istio; like istiod we merge them (the HTTPRoutes as one precedence-sorted
// block placed by the oldest HTTPRoute) and warn.
//
// Problems never fail the build: like istiod they become Warnings shaped as
// status conditions (ResolvedRefs=False/BackendNotFound, Accepted=False/
// UnsupportedValue, ...) and the object or field is skipped, or the backend
// is kept unresolved so its share of traffic gets 500 (Gateway API).
//
// It is not the data plane: evaluation lives in dataplane/waypoint/route.
package l7route
