// Package xdsserver plays istiod's side of the workload API: a delta ADS gRPC
// server (envoy.service.discovery.v3.AggregatedDiscoveryService/
// DeltaAggregatedResources) that serves Address and Authorization resources to
// every connected ztunnel and waypoint, and each waypoint's configuration
// (dataplane/waypoint/config.TypeURL, subscribed by name "<ns>/<gateway>"),
// pushes only what changed when the input changes, and records each
// connection's ACK/NACK state.
//
// Every ztunnel gets every resource (istiod sends ztunnel the whole mesh as a
// wildcard subscription; on-demand lookups are not implemented). It computes
// nothing: callers hand it resources (sim/controlplane.Build). SotW
// (StreamAggregatedResources) is not served; ztunnel only speaks delta.
package xdsserver
