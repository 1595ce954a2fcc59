package redirect

import (
	"errors"
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RulePriority is the preference of the fwmark rule
// ("ip rule add fwmark 0x111/0xfff pref 32764 lookup 100").
const RulePriority = 32764

// Apply installs the in-pod redirection for opts in the network namespace nsFd
// (borrowed, never entered). It is idempotent: the tables are replaced in one
// atomic nftables batch (add + flush + chains + rules, as istio-cni's
// addIstioTableRules does, plus deletion of tables opts leave empty), then the
// fwmark rule and the table-100 loopback route are ensured.
func Apply(nsFd int, opts Options) error {
	conn, err := nftables.New(nftables.WithNetNSFd(nsFd))
	if err != nil {
		return fmt.Errorf("redirect: netlink connection to netns fd %d: %w", nsFd, err)
	}
	present := build(opts)
	for _, t := range present {
		queueTable(conn, t)
	}
	for _, name := range absentTables(present) {
		nt := inet(name)
		conn.AddTable(nt)
		conn.DelTable(nt)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("redirect: programming nftables in netns fd %d: %w", nsFd, err)
	}
	return withHandle(nsFd, func(h *netlink.Handle) error {
		if err := h.RuleAdd(inpodMarkRule()); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("ip rule fwmark %#x/%#x lookup %d: %w", InpodTProxyMark, InpodTProxyMask, RouteTableInbound, err)
		}
		route, err := loopbackRoute(h)
		if err != nil {
			return err
		}
		if err := h.RouteReplace(route); err != nil {
			return fmt.Errorf("local 0.0.0.0/0 dev lo table %d: %w", RouteTableInbound, err)
		}
		return nil
	})
}

// Remove undoes Apply: the tables are flushed and deleted in one batch (adding
// them first so that the batch is valid when they do not exist, as istio-cni's
// DeleteInpodRules does), then the rule and route are deleted. Idempotent.
func Remove(nsFd int) error {
	conn, err := nftables.New(nftables.WithNetNSFd(nsFd))
	if err != nil {
		return fmt.Errorf("redirect: netlink connection to netns fd %d: %w", nsFd, err)
	}
	for _, name := range tableNames {
		t := inet(name)
		conn.AddTable(t)
		conn.FlushTable(t)
		conn.DelTable(t)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("redirect: removing nftables in netns fd %d: %w", nsFd, err)
	}
	return withHandle(nsFd, func(h *netlink.Handle) error {
		var errs []error
		if err := h.RuleDel(inpodMarkRule()); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("deleting fwmark rule: %w", err))
		}
		route, err := loopbackRoute(h)
		if err != nil {
			return err
		}
		if err := h.RouteDel(route); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("deleting table %d route: %w", RouteTableInbound, err))
		}
		return errors.Join(errs...)
	})
}

func inet(name string) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
}

func queueTable(conn *nftables.Conn, t table) {
	nt := inet(t.name)
	conn.AddTable(nt)
	conn.FlushTable(nt)
	chains := make(map[string]*nftables.Chain, len(t.chains))
	for _, c := range t.chains {
		nc := &nftables.Chain{Name: c.name, Table: nt}
		if c.hook != nil {
			nc.Type = c.typ
			nc.Hooknum = c.hook
			nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(c.priority))
		}
		chains[c.name] = conn.AddChain(nc)
	}
	for _, r := range t.rules {
		conn.AddRule(&nftables.Rule{Table: nt, Chain: chains[r.chain], Exprs: r.exprs})
	}
}

// inpodMarkRule is istio cni/pkg/iptables/iptables_linux.go forEachInpodMarkIPRule.
func inpodMarkRule() *netlink.Rule {
	r := netlink.NewRule()
	r.Family = unix.AF_INET
	r.Table = RouteTableInbound
	r.Mark = InpodTProxyMark
	mask := uint32(InpodTProxyMask)
	r.Mask = &mask
	r.Priority = RulePriority
	return r
}

// loopbackRoute is "local 0.0.0.0/0 dev lo table 100" (forEachLoopbackRoute):
// marked replies are delivered locally, to ztunnel's transparent socket.
func loopbackRoute(h *netlink.Handle) (*netlink.Route, error) {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("finding lo: %w", err)
	}
	return &netlink.Route{
		Dst:       &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
		Scope:     netlink.SCOPE_HOST,
		Type:      unix.RTN_LOCAL,
		Table:     RouteTableInbound,
		LinkIndex: lo.Attrs().Index,
	}, nil
}

func withHandle(nsFd int, fn func(h *netlink.Handle) error) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(nsFd))
	if err != nil {
		return fmt.Errorf("redirect: netlink handle for netns fd %d: %w", nsFd, err)
	}
	defer h.Close()
	if err := fn(h); err != nil {
		return fmt.Errorf("redirect: netns fd %d: %w", nsFd, err)
	}
	return nil
}
