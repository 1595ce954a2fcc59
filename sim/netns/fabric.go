package netns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// BridgeName is the fabric bridge in the sandbox root namespace.
const BridgeName = "fabric0"

// ErrNotFound is returned when a node or pod is not part of the fabric.
var ErrNotFound = errors.New("netns: not found")

// ErrClosed is returned by Fabric and Node methods after Fabric.Close.
var ErrClosed = errors.New("netns: fabric closed")

// Fabric is the simulated cluster network: a bridge in the current (sandbox
// root) namespace that joins one namespace per node; each node routes to its
// pods over per-pod veths. Methods are safe for concurrent use.
type Fabric struct {
	plan   topology.AddressPlan
	log    *slog.Logger
	root   *netlink.Handle // bound to the namespace NewFabric ran in
	bridge netlink.Link

	mu struct {
		sync.Mutex
		nodes  map[string]*Node
		closed bool
	}
}

// NewFabric creates the fabric bridge (BridgeIP/NodeCIDR) in the calling
// process's network namespace, which must be a sandbox's private namespace:
// it refuses to run where a physical network device is visible, so it can
// never reconfigure a host. log may be nil.
func NewFabric(plan topology.AddressPlan, log *slog.Logger) (*Fabric, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !plan.NodeCIDR.IsValid() || !plan.NodeCIDR.Addr().Is4() {
		return nil, fmt.Errorf("fabric: node CIDR %v is not a valid IPv4 prefix", plan.NodeCIDR)
	}
	root, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("fabric: netlink handle: %w", err)
	}
	f := &Fabric{plan: plan, log: log, root: root}
	f.mu.nodes = map[string]*Node{}
	if err := f.setupRoot(); err != nil {
		root.Close()
		return nil, err
	}
	log.Debug("fabric up", "bridge", BridgeName, "ip", plan.BridgeIP())
	return f, nil
}

func (f *Fabric) setupRoot() error {
	links, err := f.root.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("fabric: list links: %w", err)
	}
	for _, l := range links {
		a := l.Attrs()
		if a.Name == BridgeName {
			return fmt.Errorf("fabric: %s already exists in this namespace (another fabric is running)", BridgeName)
		}
		if l.Type() == "device" && a.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("fabric: refusing to build outside a sandbox: physical device %q is visible here", a.Name)
		}
	}
	// Sysctls first, so the bridge and its ports are created with IPv6 off.
	if err := applySysctls(forwardingSysctls); err != nil {
		return fmt.Errorf("fabric: root namespace: %w", err)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName, Flags: net.FlagUp}}
	if err := f.root.LinkAdd(br); err != nil {
		return fmt.Errorf("fabric: create bridge %s: %w", BridgeName, err)
	}
	link, err := f.root.LinkByName(BridgeName)
	if err == nil {
		err = f.root.AddrAdd(link, &netlink.Addr{IPNet: ifaceNet(f.plan.BridgeIP(), f.plan.NodeCIDR.Bits())})
	}
	if err != nil {
		f.root.LinkDel(br)
		return fmt.Errorf("fabric: address bridge %s: %w", BridgeName, err)
	}
	f.bridge = link
	return nil
}

// Plan returns the address plan the fabric was built with.
func (f *Fabric) Plan() topology.AddressPlan { return f.plan }

// Node returns the node named name.
func (f *Fabric) Node(name string) (*Node, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.mu.nodes[name]
	return n, ok && n != nil
}

// Nodes returns all nodes sorted by index.
func (f *Fabric) Nodes() []*Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodesLocked()
}

// nodesLocked lists fully added nodes by index; the caller must hold f.mu.
func (f *Fabric) nodesLocked() []*Node {
	out := make([]*Node, 0, len(f.mu.nodes))
	for _, n := range f.mu.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].spec.Index < out[j].spec.Index })
	return out
}

// AddNode creates the node's namespace, joins it to the bridge with a veth
// (eth0 inside the node, NodeIP/NodeCIDR), and installs pod-CIDR routes in
// both directions between the new node and every existing one, and from the
// root namespace. On error nothing of the node remains.
func (f *Fabric) AddNode(ctx context.Context, spec topology.Node) (_ *Node, retErr error) {
	if !spec.IP.Is4() || !spec.PodCIDR.IsValid() {
		return nil, fmt.Errorf("add node %q: needs an IPv4 address and pod CIDR (got %v, %v)", spec.Name, spec.IP, spec.PodCIDR)
	}
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("add node %q: %w", spec.Name, ErrClosed)
	}
	if _, dup := f.mu.nodes[spec.Name]; dup {
		f.mu.Unlock()
		return nil, fmt.Errorf("add node %q: already exists", spec.Name)
	}
	f.mu.nodes[spec.Name] = nil // reserve the name while building outside the lock
	f.mu.Unlock()
	defer func() {
		if retErr != nil {
			f.mu.Lock()
			delete(f.mu.nodes, spec.Name)
			f.mu.Unlock()
		}
	}()

	n, err := f.buildNode(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("add node %q: %w", spec.Name, err)
	}
	// Routes between nodes are installed under the lock so that two nodes
	// added concurrently each see the other exactly once.
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.linkNodeLocked(ctx, n); err != nil {
		f.unlinkNodeLocked(n)
		n.close()
		return nil, fmt.Errorf("add node %q: %w", spec.Name, err)
	}
	f.mu.nodes[spec.Name] = n
	f.log.Debug("node up", "node", spec.Name, "ip", spec.IP, "podCIDR", spec.PodCIDR)
	return n, nil
}

// linkNodeLocked installs routes to and from n; the caller must hold f.mu.
func (f *Fabric) linkNodeLocked(ctx context.Context, n *Node) error {
	if err := f.routeVia(ctx, f.root, f.bridge.Attrs().Index, n.spec.PodCIDR, n.spec.IP, "root"); err != nil {
		return err
	}
	for _, other := range f.nodesLocked() {
		if err := f.routeVia(ctx, n.h, n.eth0, other.spec.PodCIDR, other.spec.IP, n.spec.Name); err != nil {
			return err
		}
		if err := f.routeVia(ctx, other.h, other.eth0, n.spec.PodCIDR, n.spec.IP, other.spec.Name); err != nil {
			return err
		}
	}
	return nil
}

// unlinkNodeLocked removes, best effort, the routes to n's pod CIDR that a
// failed linkNodeLocked may have installed elsewhere; the caller must hold f.mu.
func (f *Fabric) unlinkNodeLocked(n *Node) {
	dst := prefixNet(n.spec.PodCIDR)
	f.root.RouteDel(&netlink.Route{LinkIndex: f.bridge.Attrs().Index, Dst: dst})
	for _, other := range f.nodesLocked() {
		other.h.RouteDel(&netlink.Route{LinkIndex: other.eth0, Dst: dst})
	}
}

func (f *Fabric) routeVia(ctx context.Context, h *netlink.Handle, ifindex int, dst netip.Prefix, gw netip.Addr, where string) error {
	r := &netlink.Route{LinkIndex: ifindex, Dst: prefixNet(dst), Gw: net.IP(gw.AsSlice())}
	return retry(ctx, fmt.Sprintf("route %v via %v in %s", dst, gw, where), func() error { return h.RouteReplace(r) })
}

// Close tears the fabric down: pods, then nodes (closing a namespace's last
// fd destroys it and every veth inside), then the bridge. Processes still
// running in a pod or node namespace keep that namespace alive; stop them
// first. Idempotent.
func (f *Fabric) Close() error {
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		return nil
	}
	f.mu.closed = true
	nodes := f.nodesLocked()
	f.mu.Unlock()

	var errs []error
	for _, n := range nodes {
		if err := n.close(); err != nil {
			errs = append(errs, err)
		}
		// Delete the bridge port explicitly: namespace destruction is
		// asynchronous, and a fabric rebuilt right away must not see stale ports.
		if l, err := f.root.LinkByName(n.port); err == nil {
			if err := f.root.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("delete port %s: %w", n.port, err))
			}
		}
	}
	if err := f.root.LinkDel(f.bridge); err != nil {
		errs = append(errs, fmt.Errorf("delete bridge %s: %w", BridgeName, err))
	}
	f.root.Close()
	return errors.Join(errs...)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ifaceNet is an interface address: a with the mask of bits, host part kept.
func ifaceNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, a.BitLen())}
}

func hostNet(a netip.Addr) *net.IPNet { return ifaceNet(a, a.BitLen()) }
