// Package istiod composes the simulated istiod process that runs in the
// istio-system/istiod pod: workload-API xDS (controlplane.Run), the mesh CA
// (ca.Server, with a node authorizer answering from the current input), and
// istio-cni's node agent for every node (nodeagent.Server per ZDS socket),
// enrolling the captured pods whose network namespaces the simulator
// publishes next to the input.
//
// Everything it needs is under one state directory (Layout): the input the
// simulator rewrites on every change (then SIGHUPs istiod), the pod netns
// map, one ZDS socket and one bootstrap credential directory per node, one
// pod-bound credential directory per waypoint pod, and the CA state.
//
// The CA state (Layout.CADir, ca.Open) survives restarts: a restarted
// istiod loads the same root and the bootstrap bindings, keeps the node
// and pod credentials already on disk, and so goes on serving the running
// ztunnels and waypoints. Root rotation is not simulated.
package istiod
