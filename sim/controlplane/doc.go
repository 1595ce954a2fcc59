// Package controlplane plays istiod for the simulator: from the resolved
// cluster model and the loaded Istio objects it computes the workload API
// resources istiod would send each ztunnel (Build), and its Run serves them
// over delta xDS (xdsserver) from the `istio-system/istiod` pod, re-reading its
// input when the simulator rewrites it (WriteInput / ReadInput).
//
// Authorization conversion lives in authz, the CA in ca. Waypoints
// (use-waypoint), network gateways and on-demand lookups are not computed yet.
package controlplane
