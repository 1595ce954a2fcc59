// Package netns builds the simulated cluster network inside a sandbox: one
// network namespace per node and per pod, veth pairs, a bridge, addresses,
// routes and sysctls, all through netlink (never the ip command).
//
// Layout (default address plan):
//
//	sandbox root netns:  fabric0 (198.18.0.1/20) ── fab-n<i> ports
//	node netns i:        eth0 (198.18.0.1x/20), ip_forward=1,
//	                     route <other node pod CIDR> via <other node IP>,
//	                     veth<hex ip> per pod (169.254.1.1/32, route podIP/32)
//	pod netns:           eth0 (podIP/32), 169.254.1.1 dev eth0 scope link,
//	                     default via 169.254.1.1
//
// Why nothing can leak: every namespace is anonymous. It is created with
// unshare(CLONE_NEWNET) on a locked thread and held only by a file descriptor
// of this process (type NS) — never bind-mounted under /run/netns. The kernel
// frees a namespace, and every veth and nft table in it, when its last fd and
// its last process are gone; a veth dies with either end's namespace. So a
// crashed supervisor cannot leave namespaces or links behind, and Close is an
// optimisation, not a correctness requirement. The root namespace itself is
// the sandbox's private one (package sandbox): NewFabric refuses to run where
// a physical device is visible. No object here carries a host-visible name.
//
// Veth pairs are created in a single netlink message with the peer born in
// the target namespace under its final name (IFLA_NET_NS_FD on the peer), so
// there is no temporary name to collide or leak and no half-moved pair.
//
// Namespaces are entered only through NS.Do (the containernetworking ns.Do
// discipline: a fresh locked thread, left locked to die if switching back
// fails). Netlink work uses per-namespace handles (NS.Handle) that need no
// thread switching. Sockets for in-namespace servers are made with NS.Listen
// and then served from ordinary goroutines.
//
// This package does not start processes (see sandbox.PodCommand and NS.Start),
// program nftables (sim/kubeproxy, via NS.Fd) or decide addresses (topology).
package netns
