// Package nodeagent plays istio-cni's node agent for one node: it enrolls
// ambient pods (in-pod redirection rules from sim/redirect, then the pod's
// network namespace handed to the node's ztunnel over ZDS) and serves the ZDS
// socket that ztunnel — the reference one (dataplane/ztunnel/inpod) or the
// real one (INPOD_UDS) — connects to.
//
// Upstream: istio cni/pkg/nodeagent ztunnelserver.go / ztunnelserver_linux.go
// (the ZDS server: hello, replay of the pod cache with an ack per pod, then
// SnapshotSent; later adds to the newest ztunnel, deletes to every connected
// one; keepalive by short read), net_linux.go AddPodToMesh /
// RemovePodFromMesh (rules first, then ZDS; an add that ztunnel did not
// confirm is a partial add, kept in the cache for the next replay) and
// cni/pkg/util/enablement_selector.go (which pods are captured). Docs:
// ambient-semantics.md §2 and §14.
package nodeagent
