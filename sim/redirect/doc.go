// Package redirect installs istio-cni's in-pod traffic redirection inside a pod
// network namespace, in istio's native nftables form (global.nativeNftables=true):
// the tables inet istio-ambient-nat / -mangle / -raw (priorities -100 / -150 /
// -300) that send the pod's outbound TCP to ztunnel's 15001, inbound TCP (except
// HBONE on 15008) to 15006 and, optionally, DNS to 15053; the 0x539 mark that
// ztunnel's own sockets carry bypasses capture, and connmark 0x111 plus policy
// routing (fwmark 0x111/0xfff → table 100 → local via lo) bring replies to
// spoofed-source connections back to ztunnel.
//
// Sources: istio cni/pkg/nftables/nftables.go (AppendInpodRules,
// addIstioTableRules, DeleteInpodRules), cni/pkg/iptables/iptables_linux.go
// (ip rule and loopback route), cni/pkg/config (constants); the rendering is
// compared byte for byte with istio's cni/pkg/nftables/testdata/*.golden.
// See also docs ambient-semantics.md §2.
//
// Render prints the nft transaction; Apply programs the same rules through
// netlink (github.com/google/nftables, vishvananda/netlink) in a namespace given
// by fd without entering it; Remove undoes it. dataplane/sockets.OriginalDst reads the
// pre-REDIRECT destination of an accepted connection. IPv4 only; this package
// does not install the host-namespace probe SNAT, iptables-mode rules or
// sidecar capture.
package redirect
