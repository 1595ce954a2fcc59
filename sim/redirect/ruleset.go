package redirect

import (
	"net/netip"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Options selects the variants istio-cni applies per pod.
type Options struct {
	// DNSCapture redirects the pod's DNS (UDP to a non-lo interface, TCP to a
	// non-loopback address, port 53) to ztunnel's DNS proxy on 15053 and puts
	// ztunnel's upstream DNS in conntrack zone 1 (the raw table).
	DNSCapture bool
	// BypassInbound is ingress mode (annotation
	// ambient.istio.io/bypass-inbound-capture): no inbound redirect to 15006
	// and no inbound probe accept.
	BypassInbound bool
	// VirtualInterfaces treats TCP arriving on these interfaces as outbound
	// (KubeVirt, DinD): redirected straight to 15001.
	VirtualInterfaces []string
	// ProbeSNAT is the node probe source address; DefaultProbeSNAT when zero.
	ProbeSNAT netip.Addr
}

// Table names and chain names from istio cni/pkg/nftables/nftables.go.
const (
	NATTable    = "istio-ambient-nat"
	MangleTable = "istio-ambient-mangle"
	RawTable    = "istio-ambient-raw"

	chainPrerouting      = "prerouting"
	chainOutput          = "output"
	chainIstioPrerouting = "istio-prerouting"
	chainIstioOutput     = "istio-output"
)

// tableNames lists every table Apply may create, in the order it creates them.
var tableNames = []string{NATTable, MangleTable, RawTable}

type chainSpec struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook // nil: regular chain
	hookName string
	priority int32
}

type table struct {
	name   string
	chains []chainSpec
	rules  []rule
}

// chainsFor gives the four chains of each table (addIstio{Nat,Mangle,Raw}TableRules).
// All four are always referenced: the base chains jump to the istio-* chains.
func chainsFor(typ, outputType nftables.ChainType, priority int32) []chainSpec {
	return []chainSpec{
		{chainPrerouting, typ, nftables.ChainHookPrerouting, "prerouting", priority},
		{chainOutput, outputType, nftables.ChainHookOutput, "output", priority},
		{name: chainIstioPrerouting},
		{name: chainIstioOutput},
	}
}

var loopback = netip.MustParseAddr("127.0.0.1")

// build returns the tables that hold rules for opts, rules in the order istio's
// AppendInpodRules appends them (it only matters within a chain, and the
// golden files pin it).
func build(opts Options) []table {
	probe := opts.ProbeSNAT
	if !probe.IsValid() {
		probe = DefaultProbeSNAT
	}
	tcp, udp := byte(unix.IPPROTO_TCP), byte(unix.IPPROTO_UDP)
	notInpodMark := markMasked("mark and 0xfff", false, InpodMask, InpodMark)

	nat := table{name: NATTable, chains: chainsFor(nftables.ChainTypeNAT, nftables.ChainTypeNAT, -100)}
	mangle := table{name: MangleTable, chains: chainsFor(nftables.ChainTypeFilter, nftables.ChainTypeRoute, -150)}
	raw := table{name: RawTable, chains: chainsFor(nftables.ChainTypeFilter, nftables.ChainTypeFilter, -300)}

	mangle.add(newRule(chainPrerouting, jump(chainIstioPrerouting)))
	mangle.add(newRule(chainOutput, jump(chainIstioOutput)))
	nat.add(newRule(chainOutput, jump(chainIstioOutput)))
	if opts.DNSCapture {
		raw.add(newRule(chainPrerouting, jump(chainIstioPrerouting)))
		raw.add(newRule(chainOutput, jump(chainIstioOutput)))
	}
	nat.add(newRule(chainPrerouting, jump(chainIstioPrerouting)))

	for _, vif := range opts.VirtualInterfaces {
		nat.add(newRule(chainIstioPrerouting, ifname(exprMetaIIFNAME, true, vif), l4proto(tcp), counter, redirectTo(ZtunnelOutboundPort)))
		nat.add(newRule(chainIstioPrerouting, ifname(exprMetaIIFNAME, true, vif), l4proto(tcp), counter, returnVdt))
	}

	// ztunnel's own connections (mark 0x539) get connmark 0x111, so that the
	// app's replies to a spoofed source are routed back to ztunnel (table 100).
	mangle.add(newRule(chainIstioPrerouting, markMasked("meta mark & 0xfff", true, InpodMask, InpodMark), counter, saveConnmark()))

	if !opts.BypassInbound {
		nat.add(newRule(chainIstioPrerouting, l4proto(tcp), ipAddr("saddr", true, probe, ""), counter, accept))
	}
	nat.add(newRule(chainIstioOutput, l4proto(tcp), ipAddr("daddr", true, probe, ""), counter, accept))

	if !opts.BypassInbound {
		// Upstream spells this mark match with two spaces before "!=".
		nat.add(newRule(chainIstioPrerouting, ipAddr("daddr", false, loopback, "/32"), port(tcp, "dport", false, ZtunnelInboundPort),
			markMasked("mark and 0xfff ", false, InpodMask, InpodMark), counter, redirectTo(ZtunnelInboundPlaintextPort)))
	}

	mangle.add(newRule(chainIstioOutput, ctMarkMasked(InpodTProxyMask, InpodTProxyMark), counter, restoreConnmark()))

	if opts.DNSCapture {
		nat.add(newRule(chainIstioOutput, ifname(exprMetaOIFNAME, false, "lo"), notInpodMark, port(udp, "dport", true, 53),
			counter, redirectTo(DNSCapturePort)))
		nat.add(newRule(chainIstioOutput, ipAddr("daddr", false, loopback, "/32"), port(tcp, "dport", true, 53), notInpodMark,
			counter, redirectTo(DNSCapturePort)))
		raw.add(newRule(chainIstioOutput, port(udp, "dport", true, 53), markMasked("meta mark and 0xfff", true, InpodMask, InpodMark),
			counter, ctZone(1)))
		raw.add(newRule(chainIstioPrerouting, port(udp, "sport", true, 53), markMasked("meta mark and 0xfff", false, InpodMask, InpodMark),
			counter, ctZone(1)))
	}

	nat.add(newRule(chainIstioOutput, l4proto(tcp), markMasked("mark and 0xfff", true, InpodTProxyMask, InpodTProxyMark), counter, accept))
	// The app calling itself by pod IP goes over lo: never through ztunnel.
	nat.add(newRule(chainIstioOutput, ifname(exprMetaOIFNAME, true, "lo"), ipAddr("daddr", false, loopback, "/32"), counter, accept))
	nat.add(newRule(chainIstioOutput, l4proto(tcp), ipAddr("daddr", false, loopback, "/32"), notInpodMark, counter,
		redirectTo(ZtunnelOutboundPort)))

	out := []table{nat, mangle}
	if len(raw.rules) > 0 {
		out = append(out, raw)
	}
	return out
}

func (t *table) add(r rule) { t.rules = append(t.rules, r) }
