package kubeproxy

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// TableName is the nftables table (family ip) Sync owns in a node namespace.
// It only ever exists inside sandbox namespaces; reap recognises it by name.
const TableName = "ambientlab-kube-proxy"

// Chain and map names follow kube-proxy's nftables mode
// (kubernetes pkg/proxy/nftables/proxier.go) so that dumps read the same.
const (
	chainFilterForward   = "filter-forward"
	chainFilterOutput    = "filter-output"
	chainNATPrerouting   = "nat-prerouting"
	chainNATOutput       = "nat-output"
	chainNATPostrouting  = "nat-postrouting"
	chainServices        = "services"
	chainEndpointsCheck  = "service-endpoints-check"
	chainMarkForMasq     = "mark-for-masquerade"
	chainMasquerading    = "masquerading"
	chainReject          = "reject-chain"
	mapServiceIPs        = "service-ips"
	mapNoEndpointService = "no-endpoint-services"
)

type protocol struct {
	name   string
	number byte
}

var protocols = map[topology.Protocol]protocol{
	topology.ProtocolTCP:  {"tcp", unix.IPPROTO_TCP},
	topology.ProtocolUDP:  {"udp", unix.IPPROTO_UDP},
	topology.ProtocolSCTP: {"sctp", unix.IPPROTO_SCTP},
}

// baseHook attaches a chain to a netfilter hook.
type baseHook struct {
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	hookName string
	priority int32
}

type chain struct {
	name  string
	base  *baseHook // nil for regular chains
	rules []rule
}

// mapElem is "vip . proto . port : goto target".
type mapElem struct {
	vip    netip.Addr
	proto  protocol
	port   uint16
	target string
}

type vmap struct {
	name  string
	elems []mapElem
}

// ruleset is the whole table: what Render prints and Sync programs.
type ruleset struct {
	maps   []vmap
	chains []chain
}

// kube-proxy runs its filter chains at dstnat-10 so that they see the
// destination before DNAT (proxier.go nftablesBaseChains).
var baseChains = []chain{
	{name: chainFilterForward, base: &baseHook{nftables.ChainTypeFilter, nftables.ChainHookForward, "forward", -110},
		rules: []rule{ctNewJump(chainEndpointsCheck)}},
	{name: chainFilterOutput, base: &baseHook{nftables.ChainTypeFilter, nftables.ChainHookOutput, "output", -110},
		rules: []rule{ctNewJump(chainEndpointsCheck)}},
	{name: chainNATPrerouting, base: &baseHook{nftables.ChainTypeNAT, nftables.ChainHookPrerouting, "prerouting", -100},
		rules: []rule{jump(chainServices)}},
	{name: chainNATOutput, base: &baseHook{nftables.ChainTypeNAT, nftables.ChainHookOutput, "output", -100},
		rules: []rule{jump(chainServices)}},
	{name: chainNATPostrouting, base: &baseHook{nftables.ChainTypeNAT, nftables.ChainHookPostrouting, "postrouting", 100},
		rules: []rule{jump(chainMasquerading)}},
	{name: chainMarkForMasq, rules: []rule{setMasqueradeMark()}},
	{name: chainMasquerading, rules: []rule{returnUnlessMarked(), clearMasqueradeMark(), masquerade()}},
	{name: chainServices, rules: []rule{serviceLookup(mapServiceIPs)}},
	{name: chainEndpointsCheck, rules: []rule{serviceLookup(mapNoEndpointService)}},
	{name: chainReject, rules: []rule{rejectTCP(), rejectOther()}},
}

// target is one endpoint address for one Service port.
type target struct {
	ip   netip.Addr
	port uint16
}

// build turns Services into the table. It rejects input the kernel would refuse
// half-way (unknown protocols, duplicate VIP/port pairs) so Sync fails cleanly.
func build(services []topology.Service) (*ruleset, error) {
	rs := &ruleset{chains: slices.Clone(baseChains)}
	svcMap := vmap{name: mapServiceIPs}
	rejectMap := vmap{name: mapNoEndpointService}
	seen := map[mapElem]string{}

	sorted := slices.Clone(services)
	slices.SortFunc(sorted, func(a, b topology.Service) int { return cmp.Compare(a.Key(), b.Key()) })
	var svcChains, epChains []chain
	for _, svc := range sorted {
		if svc.Headless {
			continue // headless Services resolve to pod IPs in DNS; nothing to proxy
		}
		if !svc.ClusterIP.Is4() {
			return nil, fmt.Errorf("service %s: ClusterIP %v is not an IPv4 address", svc.Key(), svc.ClusterIP)
		}
		for _, sp := range svc.Ports {
			proto, ok := protocols[sp.Protocol]
			if !ok {
				return nil, fmt.Errorf("service %s port %d: unsupported protocol %q", svc.Key(), sp.Port, sp.Protocol)
			}
			key := mapElem{vip: svc.ClusterIP, proto: proto, port: sp.Port}
			if other, dup := seen[key]; dup {
				return nil, fmt.Errorf("service %s port %s/%d: VIP %v already used by %s", svc.Key(), proto.name, sp.Port, svc.ClusterIP, other)
			}
			seen[key] = svc.Key()

			targets, err := targetsFor(svc, sp)
			if err != nil {
				return nil, err
			}
			if len(targets) == 0 {
				key.target = chainReject
				rejectMap.elems = append(rejectMap.elems, key)
				continue
			}
			portID := fmt.Sprintf("%s/%s/%s", svc.Key(), proto.name, sp.PortKey())
			svcChain := chain{name: "service-" + hash8(portID) + "-" + portID}
			var names []string
			for _, t := range targets {
				ep := fmt.Sprintf("%s/%d", t.ip, t.port)
				name := "endpoint-" + hash8(portID+"__"+ep) + "-" + portID + "__" + ep
				names = append(names, name)
				epChains = append(epChains, chain{name: name, rules: []rule{
					hairpinMark(t.ip, chainMarkForMasq),
					dnat(proto, t.ip, t.port),
				}})
			}
			svcChain.rules = []rule{pickEndpoint(names)}
			svcChains = append(svcChains, svcChain)
			key.target = svcChain.name
			svcMap.elems = append(svcMap.elems, key)
		}
	}
	for _, m := range []*vmap{&svcMap, &rejectMap} {
		slices.SortFunc(m.elems, compareElems)
	}
	rs.maps = []vmap{rejectMap, svcMap}
	rs.chains = append(rs.chains, svcChains...)
	rs.chains = append(rs.chains, epChains...)
	return rs, nil
}

// targetsFor resolves the ready endpoints of one Service port, sorted, skipping
// endpoints that do not expose a named target port (as Kubernetes does).
func targetsFor(svc topology.Service, sp topology.ServicePort) ([]target, error) {
	var out []target
	for _, ep := range svc.Endpoints {
		if !ep.IP.Is4() {
			return nil, fmt.Errorf("service %s endpoint %s: %v is not an IPv4 address", svc.Key(), ep.Pod, ep.IP)
		}
		port, ok := ep.TargetPorts[sp.PortKey()]
		if !ok {
			if sp.TargetPortName != "" {
				continue
			}
			port = cmp.Or(sp.TargetPort, sp.Port)
		}
		out = append(out, target{ip: ep.IP, port: port})
	}
	slices.SortFunc(out, func(a, b target) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.port, b.port))
	})
	return slices.Compact(out), nil
}

func compareElems(a, b mapElem) int {
	return cmp.Or(a.vip.Compare(b.vip), cmp.Compare(a.proto.number, b.proto.number), cmp.Compare(a.port, b.port))
}

// hash8 mirrors kube-proxy's hashAndTruncate: a short stable prefix that keeps
// chain names unique however the readable suffix is spelled.
func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:8]
}

// verdictGoto is the verdict stored in map elements.
func verdictGoto(chain string) *expr.Verdict {
	return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}
}
