// Package workloadapi is the data plane's view of the mesh: Workloads, Services
// and authorization Policies, converted at the edge from the Istio workload API
// wire protos (istio `pkg/workloadapi`, `pkg/workloadapi/security`) into plain
// Go state, as ztunnel does with TryFrom in `src/state/workload.rs` and
// `src/state/service.rs`. A Snapshot is immutable and indexed for the lookups a
// proxy makes per connection (by IP, VIP, hostname, UID); a new xDS update
// builds a new Snapshot as a whole.
//
// It is not an xDS client (see dataplane/xds) and it does not compute what
// istiod would send (see sim/controlplane). It never imports the heavy
// istio.io/istio packages, only the generated wire types.
package workloadapi
