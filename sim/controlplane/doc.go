// Package controlplane plays istiod for the simulator: from the resolved
// cluster model and the loaded Istio objects it computes the workload API
// resources istiod would send each ztunnel (Build), and its Run serves them
// over delta xDS (xdsserver) from the `istio-system/istiod` pod, re-reading its
// input when the simulator rewrites it (WriteInput / ReadInput).
//
// Waypoints: Services and pods bound with istio.io/use-waypoint carry their
// waypoint's address (waypoint_bind.go), and each waypoint Gateway gets its
// configuration Snapshot (waypoint.go), served on the same stream.
// Authorization conversion lives in authz, the CA in ca. Network gateways and
// on-demand lookups are not computed.
package controlplane
