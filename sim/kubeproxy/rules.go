package kubeproxy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// rule is one nftables rule, kept as the nft text Render prints and the netlink
// expressions Sync programs. Both are produced by the same constructor below, so
// the rendering cannot drift from what reaches the kernel.
type rule struct {
	text  string
	exprs []expr.Any
	// A rule may end in a verdict-map lookup on register 1: either a named map of
	// the table (mapName) or an anonymous constant map whose key i maps to
	// "goto gotos[i]" (the numgen load-balancing map).
	mapName string
	gotos   []string
}

// masqueradeBit is kube-proxy's default --masquerade-bit 14, the mark that
// "mark-for-masquerade" sets and "masquerading" tests and clears
// (kubernetes pkg/proxy/nftables/proxier.go, "masquerading" chain).
const masqueradeBit = 0x4000

// Registers: nft uses register 1 (== NFT_REG32_00, 8) for the first value of a
// concatenation and the following 32-bit registers for the next fields.
const (
	reg1      = 1
	reg2      = 2
	reg32n01  = unix.NFT_REG32_01
	reg32n02  = unix.NFT_REG32_02
	verdictRg = 0
)

func jump(target string) rule {
	return rule{
		text:  "jump " + target,
		exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: target}},
	}
}

// ctNewJump is "ct state new jump target": only the first packet of a flow is
// filtered, later packets follow conntrack.
func ctNewJump(target string) rule {
	return rule{
		text: "ct state new jump " + target,
		exprs: []expr.Any{
			&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: target},
		},
	}
}

// serviceLookup is kube-proxy's dispatch on the (VIP, protocol, port) triple.
func serviceLookup(mapName string) rule {
	return rule{
		text: "ip daddr . meta l4proto . th dport vmap @" + mapName,
		exprs: []expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg32n01},
			&expr.Payload{DestRegister: reg32n02, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		},
		mapName: mapName,
	}
}

// returnUnlessMarked ends "masquerading" for packets nobody marked.
func returnUnlessMarked() rule {
	return rule{
		text: fmt.Sprintf("mark and %#x == 0 return", masqueradeBit),
		exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(masqueradeBit), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: make([]byte, 4)},
			&expr.Verdict{Kind: expr.VerdictReturn},
		},
	}
}

// clearMasqueradeMark drops the bit again so that it does not leak into later
// routing decisions (kube-proxy does the same before masquerading).
func clearMasqueradeMark() rule {
	return setMark(fmt.Sprintf("mark set mark xor %#x", masqueradeBit), 0xffffffff, masqueradeBit)
}

func setMasqueradeMark() rule {
	return setMark(fmt.Sprintf("mark set mark or %#x", masqueradeBit), ^uint32(masqueradeBit), masqueradeBit)
}

// setMark is "meta mark set (meta mark & mask) ^ xor".
func setMark(text string, mask, xor uint32) rule {
	return rule{
		text: text,
		exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(xor)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
		},
	}
}

func masquerade() rule {
	return rule{text: "masquerade fully-random", exprs: []expr.Any{&expr.Masq{FullyRandom: true}}}
}

// rejectTCP answers a TCP SYN with a reset and rejectOther answers anything
// else with ICMP port-unreachable: both are a fast ECONNREFUSED for the client.
// kube-proxy's "reject-chain" uses ICMP for TCP too; a reset is used here
// because ICMP errors share the per-peer rate limit with ICMP redirects, which
// hairpin traffic triggers, and a rate-limited refusal turns into a 1 s SYN
// retransmission instead of a refusal.
func rejectTCP() rule {
	return rule{
		text: "meta l4proto tcp reject with tcp reset",
		exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST},
		},
	}
}

func rejectOther() rule {
	const icmpPortUnreachable = 3 // ICMP_PORT_UNREACH, include/uapi/linux/icmp.h
	return rule{
		text:  "reject",
		exprs: []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreachable}},
	}
}

// pickEndpoint chooses one endpoint chain uniformly at random per new flow.
func pickEndpoint(endpointChains []string) rule {
	elems := make([]string, len(endpointChains))
	for i, c := range endpointChains {
		elems[i] = fmt.Sprintf("%d : goto %s", i, c)
	}
	return rule{
		text: fmt.Sprintf("numgen random mod %d vmap { %s }", len(endpointChains), strings.Join(elems, ", ")),
		exprs: []expr.Any{
			&expr.Numgen{Register: reg1, Type: unix.NFT_NG_RANDOM, Modulus: uint32(len(endpointChains))},
		},
		gotos: endpointChains,
	}
}

// hairpinMark marks flows whose chosen endpoint is their own source: without
// SNAT the pod would receive a packet from its own address and drop it as martian.
func hairpinMark(endpoint netip.Addr, target string) rule {
	ip := endpoint.As4()
	return rule{
		text: fmt.Sprintf("ip saddr %s jump %s", endpoint, target),
		exprs: []expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ip[:]},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: target},
		},
	}
}

func dnat(proto protocol, endpoint netip.Addr, port uint16) rule {
	ip := endpoint.As4()
	return rule{
		text: fmt.Sprintf("meta l4proto %s dnat to %s:%d", proto.name, endpoint, port),
		exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proto.number}},
			&expr.Immediate{Register: reg1, Data: ip[:]},
			&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2},
		},
	}
}
