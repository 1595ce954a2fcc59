package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// Node is a simulated node: a namespace with eth0 on the fabric bridge, IP
// forwarding on, and one veth per pod. Methods are safe for concurrent use;
// AddPod in particular is meant to be called from a worker pool.
type Node struct {
	fabric *Fabric
	spec   topology.Node
	ns     *NS
	h      *netlink.Handle // bound to ns; netlink serialises requests per socket
	eth0   int             // ifindex of eth0 inside ns
	port   string          // bridge port name in the root namespace

	mu struct {
		sync.Mutex
		pods map[string]*Pod // nil value = reserved, being built
	}
}

func portName(index int) string { return fmt.Sprintf("fab-n%d", index) }

// buildNode creates the namespace and the veth; it installs no inter-node
// routes. On error it leaves nothing behind.
func (f *Fabric) buildNode(ctx context.Context, spec topology.Node) (_ *Node, retErr error) {
	ns, err := New(func() error {
		if err := applySysctls(forwardingSysctls); err != nil {
			return err
		}
		return loUp()
	})
	if err != nil {
		return nil, err
	}
	n := &Node{fabric: f, spec: spec, ns: ns, port: portName(spec.Index)}
	n.mu.pods = map[string]*Pod{}
	defer func() {
		if retErr != nil {
			n.close()
		}
	}()
	if n.h, err = ns.Handle(); err != nil {
		return nil, err
	}
	// The pair is created in one message: the port is enslaved to the bridge
	// and up, and its peer is born as eth0 inside the node namespace. No
	// temporary name ever exists, and a failure leaves no half-built pair.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.port, MasterIndex: f.bridge.Attrs().Index, Flags: net.FlagUp},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ns.Fd()),
	}
	if err := retry(ctx, "create veth "+n.port, func() error { return f.root.LinkAdd(veth) }); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			f.root.LinkDel(veth)
		}
	}()
	eth0, err := n.h.LinkByName("eth0")
	if err != nil {
		return nil, fmt.Errorf("find eth0 in node netns: %w", err)
	}
	n.eth0 = eth0.Attrs().Index
	if err := n.h.AddrAdd(eth0, &netlink.Addr{IPNet: ifaceNet(spec.IP, f.plan.NodeCIDR.Bits())}); err != nil {
		return nil, fmt.Errorf("address eth0 %v: %w", spec.IP, err)
	}
	if err := n.h.LinkSetUp(eth0); err != nil {
		return nil, fmt.Errorf("set eth0 up: %w", err)
	}
	// Service VIPs go to the bridge so that a node-local connect() finds a
	// route; kube-proxy's DNAT in OUTPUT then re-routes the packet.
	if f.plan.ServiceCIDR.IsValid() {
		if err := f.routeVia(ctx, n.h, n.eth0, f.plan.ServiceCIDR, f.plan.BridgeIP(), spec.Name); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// loUp brings up lo in the calling thread's namespace.
func loUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// Spec returns the node as it was added.
func (n *Node) Spec() topology.Node { return n.spec }

// NS returns the node's namespace (kube-proxy rules, node-level processes).
func (n *Node) NS() *NS { return n.ns }

// Pod returns the pod with key "namespace/name".
func (n *Node) Pod(key string) (*Pod, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.mu.pods[key]
	return p, ok && p != nil
}

// Pods returns the node's pods sorted by key.
func (n *Node) Pods() []*Pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.podsLocked()
}

func (n *Node) podsLocked() []*Pod {
	out := make([]*Pod, 0, len(n.mu.pods))
	for _, p := range n.mu.pods {
		if p != nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].spec.Key() < out[j].spec.Key() })
	return out
}

// close releases the pods' and the node's namespaces; the kernel destroys
// their veths with them.
func (n *Node) close() error {
	n.mu.Lock()
	pods := n.podsLocked()
	n.mu.pods = map[string]*Pod{}
	n.mu.Unlock()
	var errs []error
	for _, p := range pods {
		errs = append(errs, p.ns.Close())
	}
	if n.h != nil {
		n.h.Close()
	}
	errs = append(errs, n.ns.Close())
	return errors.Join(errs...)
}

// HostVethName is the node-side veth name of the pod with IP ip: derived from
// the address, so it is unique within a node, stable across runs, and fits
// IFNAMSIZ (15 characters).
func HostVethName(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("veth%02x%02x%02x%02x", b[0], b[1], b[2], b[3])
}

// AddPod creates the pod's namespace and its veth pair: eth0 inside the pod
// (IP/32, default route via topology.PodGateway) and HostVethName(IP) in the
// node (PodGateway/32, route IP/32). Pod sysctls are set before the namespace
// is published, so they precede every listener. On error nothing remains.
func (n *Node) AddPod(ctx context.Context, spec topology.Pod) (_ *Pod, retErr error) {
	key := spec.Key()
	if !spec.IP.Is4() || !n.spec.PodCIDR.Contains(spec.IP) {
		return nil, fmt.Errorf("add pod %s on %s: IP %v is not in the node's pod CIDR %v", key, n.spec.Name, spec.IP, n.spec.PodCIDR)
	}
	if spec.Node != "" && spec.Node != n.spec.Name {
		return nil, fmt.Errorf("add pod %s: placed on node %q, not %q", key, spec.Node, n.spec.Name)
	}
	if err := n.reserve(key); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			n.mu.Lock()
			delete(n.mu.pods, key)
			n.mu.Unlock()
		}
	}()
	p, err := n.buildPod(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("add pod %s on %s: %w", key, n.spec.Name, err)
	}
	n.mu.Lock()
	n.mu.pods[key] = p
	n.mu.Unlock()
	return p, nil
}

func (n *Node) reserve(key string) error {
	n.fabric.mu.Lock()
	closed := n.fabric.mu.closed
	n.fabric.mu.Unlock()
	if closed {
		return fmt.Errorf("add pod %s: %w", key, ErrClosed)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.mu.pods[key]; dup {
		return fmt.Errorf("add pod %s on %s: already exists", key, n.spec.Name)
	}
	n.mu.pods[key] = nil
	return nil
}

func (n *Node) buildPod(ctx context.Context, spec topology.Pod) (_ *Pod, retErr error) {
	ns, err := New(func() error {
		if err := applySysctls(podSysctls); err != nil {
			return err
		}
		return loUp()
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			ns.Close()
		}
	}()
	p := &Pod{spec: spec, ns: ns, hostVeth: HostVethName(spec.IP)}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: p.hostVeth, Flags: net.FlagUp},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ns.Fd()),
	}
	if err := retry(ctx, "create veth "+p.hostVeth, func() error { return n.h.LinkAdd(veth) }); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			n.h.LinkDel(veth)
		}
	}()
	if err := n.configureHostSide(ctx, p); err != nil {
		return nil, err
	}
	if err := configurePodSide(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (n *Node) configureHostSide(ctx context.Context, p *Pod) error {
	link, err := n.h.LinkByName(p.hostVeth)
	if err != nil {
		return fmt.Errorf("find %s in node netns: %w", p.hostVeth, err)
	}
	if err := n.h.AddrAdd(link, &netlink.Addr{IPNet: hostNet(topology.PodGateway)}); err != nil {
		return fmt.Errorf("address %s: %w", p.hostVeth, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: hostNet(p.spec.IP), Scope: netlink.SCOPE_LINK}
	return retry(ctx, fmt.Sprintf("route %v dev %s", p.spec.IP, p.hostVeth), func() error { return n.h.RouteReplace(r) })
}

func configurePodSide(ctx context.Context, p *Pod) error {
	h, err := p.ns.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0 in pod netns: %w", err)
	}
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: hostNet(p.spec.IP)}); err != nil {
		return fmt.Errorf("address eth0 %v: %w", p.spec.IP, err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("set eth0 up: %w", err)
	}
	idx := eth0.Attrs().Index
	gw := net.IP(topology.PodGateway.AsSlice())
	routes := []*netlink.Route{
		{LinkIndex: idx, Dst: hostNet(topology.PodGateway), Scope: netlink.SCOPE_LINK},
		{LinkIndex: idx, Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Gw: gw},
	}
	for _, r := range routes {
		if err := retry(ctx, fmt.Sprintf("pod route %v", r.Dst), func() error { return h.RouteReplace(r) }); err != nil {
			return err
		}
	}
	return nil
}

// RemovePod deletes the pod's veth pair and releases its namespace. Processes
// still running inside keep the namespace (without network) until they exit.
func (n *Node) RemovePod(ctx context.Context, key string) error {
	n.mu.Lock()
	p, ok := n.mu.pods[key]
	if ok && p != nil {
		delete(n.mu.pods, key)
	}
	n.mu.Unlock()
	if !ok || p == nil {
		return fmt.Errorf("remove pod %s from %s: %w", key, n.spec.Name, ErrNotFound)
	}
	var errs []error
	link, err := n.h.LinkByName(p.hostVeth)
	if err == nil {
		err = retry(ctx, "delete veth "+p.hostVeth, func() error { return n.h.LinkDel(link) })
	}
	var notFound netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &notFound) && !errors.Is(err, unix.ENODEV) {
		errs = append(errs, fmt.Errorf("remove pod %s: %w", key, err))
	}
	errs = append(errs, p.ns.Close())
	return errors.Join(errs...)
}

// Pod is a pod's network namespace on its node.
type Pod struct {
	spec     topology.Pod
	ns       *NS
	hostVeth string
}

// Spec returns the pod as it was added.
func (p *Pod) Spec() topology.Pod { return p.spec }

// NS returns the pod's namespace.
func (p *Pod) NS() *NS { return p.ns }

// HostVeth returns the node-side veth name (for capture or redirect rules).
func (p *Pod) HostVeth() string { return p.hostVeth }
