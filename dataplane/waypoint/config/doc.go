// Package config is the waypoint's configuration model and its wire form:
// what one waypoint needs beyond the workload API (which tells it where
// Services and workloads are). istiod (sim/controlplane) computes a Snapshot
// per waypoint Gateway from AuthorizationPolicies and RequestAuthentications
// attached with targetRefs, HTTPRoutes (GAMMA) and VirtualServices, and sends
// it over the same delta ADS stream as the workload API, as resource type
// TypeURL. A real Istio waypoint is Envoy configured with LDS/RDS/CDS; that
// translation is out of scope, so this is ambientlab's own, versioned API,
// documented in docs/ambient.md.
//
// The payload is JSON, decoded strictly (unknown fields rejected), then
// validated; an invalid snapshot is rejected whole and the waypoint keeps
// its previous one (as ztunnel NACKs a bad workload API update).
package config
