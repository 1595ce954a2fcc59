// Package route is the waypoint's L7 routing model and its pure evaluation:
// which route a request takes, which backend it goes to, and what the route
// does to it on the way (header modifiers, redirect, rewrite, fault
// injection, timeouts, retries). It does no I/O; the waypoint's router filter
// and forwarder apply its decisions.
//
// A Table is what the control plane computes for one Service from GAMMA
// HTTPRoutes (parentRef kind Service), VirtualServices whose hosts name the
// Service, and TCPRoutes. Like Envoy, evaluation is first match in list
// order; the Gateway API precedence (exact path > longest prefix > method >
// most headers > most query params > oldest route > name) is applied once
// when the table is built (SortByPrecedence), exactly as istiod sorts the
// VirtualService it generates from HTTPRoutes (istio
// pilot/pkg/config/kube/gateway/conversion.go sortHTTPRoutes) before Envoy
// matches routes in order.
//
// The package is not the converter (sim/controlplane/l7route) and not the
// forwarder (dataplane/waypoint): it never dials, sleeps or reads bodies.
package route
