// Package nstest builds throwaway network namespaces shaped like the
// simulator's (a "node" namespace with "pod" namespaces behind veths), held
// only by file descriptors that tests close in t.Cleanup, for packages that
// test kernel rules with real traffic without the full simulator.
package nstest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Throwaway namespaces in the shape sim/netns builds (sim/topology/topology.go):
// a node with one veth per pod, the pod side "eth0" holding podIP/32 and a
// default route via 169.254.1.1 (the node side), the node routing podIP/32 to
// the veth. Namespaces are anonymous and held only by fds, so nothing outlives
// the test process.

func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veths, nftables tables, rules and routes")
	}
}

// newNetns unshares a fresh network namespace on a locked thread, keeps an fd to
// it and switches the thread back. A thread that cannot switch back stays
// locked, so the Go runtime retires it instead of reusing it in the wrong netns.
func NewNetns(t testing.TB) int {
	t.Helper()
	fd, err := func() (int, error) {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			return -1, err
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			return -1, fmt.Errorf("unshare: %w", err)
		}
		fd, openErr := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			return -1, fmt.Errorf("restoring netns: %w", err) // thread stays locked and dies
		}
		runtime.UnlockOSThread()
		return fd, openErr
	}()
	if err != nil {
		t.Fatalf("new netns: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	WithHandle(t, fd, func(h *netlink.Handle) {
		lo, err := h.LinkByName("lo")
		Must(t, err)
		Must(t, h.LinkSetUp(lo))
	})
	return fd
}

// inNetns runs fn on a locked thread switched into the namespace fd. Sockets
// created by fn stay in that namespace after it returns.
func InNetns(t testing.TB, fd int, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own netns: %v", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns: %v", err)
	}
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("cannot restore netns, thread is tainted: %v", err))
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

func WithHandle(t testing.TB, fd int, fn func(h *netlink.Handle)) {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(fd))
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	defer h.Close()
	fn(h)
}

var podGateway = net.IPv4(169, 254, 1, 1)

// addPod joins pod to node with a veth named vethName on the node side.
func AddPod(t testing.TB, node, pod int, vethName string, podIP netip.Addr) {
	t.Helper()
	ip := net.IP(podIP.AsSlice())
	WithHandle(t, node, func(h *netlink.Handle) {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: vethName}, PeerName: "eth0", PeerNamespace: netlink.NsFd(pod)}
		Must(t, h.LinkAdd(veth))
		link, err := h.LinkByName(vethName)
		Must(t, err)
		Must(t, h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: podGateway, Mask: net.CIDRMask(32, 32)}}))
		Must(t, h.LinkSetUp(link))
		Must(t, h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Scope: netlink.SCOPE_LINK,
			Dst: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}}))
	})
	WithHandle(t, pod, func(h *netlink.Handle) {
		link, err := h.LinkByName("eth0")
		Must(t, err)
		Must(t, h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}}))
		Must(t, h.LinkSetUp(link))
		Must(t, h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Scope: netlink.SCOPE_LINK,
			Dst: &net.IPNet{IP: podGateway, Mask: net.CIDRMask(32, 32)}}))
		Must(t, h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: podGateway}))
	})
}

// setupNode gives the node forwarding and a route for the Service CIDR over a
// "fabric0" veth whose peer sits in a namespace of its own, like a node whose
// default route points at the fabric. (The dummy link type may be missing.)
func SetupNode(t testing.TB, node int, serviceCIDR netip.Prefix) {
	t.Helper()
	fabric := NewNetns(t)
	WithHandle(t, node, func(h *netlink.Handle) {
		Must(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "fabric0"}, PeerName: "node0", PeerNamespace: netlink.NsFd(fabric)}))
		link, err := h.LinkByName("fabric0")
		Must(t, err)
		Must(t, h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 18, 0, 10), Mask: net.CIDRMask(20, 32)}}))
		Must(t, h.LinkSetUp(link))
		Must(t, h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index,
			Dst: &net.IPNet{IP: serviceCIDR.Addr().AsSlice(), Mask: net.CIDRMask(serviceCIDR.Bits(), 32)}}))
	})
	InNetns(t, node, func() {
		Must(t, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644))
	})
}

func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
