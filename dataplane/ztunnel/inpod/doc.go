// Package inpod is ztunnel's in-pod mode: the ZDS client that receives each
// captured pod's network namespace from the node agent and, per pod, opens the
// proxy's listeners inside that namespace and builds dialers that also live
// there, then hands them to a PodHandler (the proxy core).
//
// Upstream: ztunnel src/inpod/workloadmanager.rs (connect with backoff, send
// hello, process messages one at a time), statemanager.rs (per-uid state,
// reconcile after SnapshotSent), netns.rs (netns identity by inode) and
// src/inpod/config.rs (socket factory: in-pod → mark → reuseport). The wire is
// package zds. Architecture: docs ambient-semantics.md §14.
//
// Per added pod, in the pod's namespace:
//
//	:15001 outbound, :15008 inbound HBONE, :15006 inbound plaintext — each
//	with SO_MARK 0x539, SO_REUSEPORT (a restarting ztunnel binds beside the
//	old one) and IP_TRANSPARENT (best effort, as ztunnel's
//	maybe_set_transparent);
//	Dial: SO_MARK 0x539, so the pod's capture rules let it through;
//	DialTransparent: the same, bound to a foreign source (the client's IP).
//
// The namespace fd received over SCM_RIGHTS is the pod's identity beside its
// uid; it is closed when the pod goes away (DelWorkload, SnapshotSent without
// it, or Client.Run returning).
package inpod
