// Package sandbox runs a simulated cluster inside a private, leak-proof box:
// new PID, network and mount namespaces (plus a user namespace when not root),
// created by re-executing the current binary. It also provides the pod
// process launcher (PodCommand), a TestMain helper that runs a package's tests
// inside a sandbox, and Reap, which proves a host is clean.
//
// Process tree:
//
//	outer process (ambientlab up, or go test)      host namespaces
//	└── __sandbox-init  (PID 1)                     new pid+net+mnt(+user) ns
//	    └── supervisor  (/proc/self/exe Args...)    builds the fabric (netns)
//	        └── __podexec → workload, one per container, in a pod netns
//
// Why leaks are impossible by construction:
//
//   - Every process lives in the sandbox's PID namespace. When its init exits
//     the kernel SIGKILLs every other process in it. Init exits when the
//     supervisor exits, and is itself killed when the outer process dies: a
//     parent-death signal (tied to a thread locked for the child's lifetime),
//     backed by a lifeline pipe that closes when the parent dies, which also
//     covers a parent that died before init could arm the signal.
//   - Network namespaces are anonymous and held only by fds and processes
//     inside the sandbox (package netns); the sandbox's own network namespace
//     is held only by its processes. When they die the kernel destroys all of
//     them, with every veth, route and nft table inside.
//   - Mounts (/proc, the state tmpfs, pods' resolv.conf binds) live in the
//     sandbox's private mount namespace (/ is made MS_PRIVATE first) and
//     vanish with it; nothing propagates to the host.
//
// The host's network is never touched: the sandbox's network namespace has
// no link to the host's. What remains possible are files a supervisor writes
// in host directories on purpose (control sockets under StateRoot); Reap
// removes the stale ones and, defensively, anything named with our prefix.
package sandbox
