package redirect

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Constants from istio cni/pkg/config/config.go.
const (
	InpodMark         = 0x539 // InpodMark (1337): set by ztunnel (SO_MARK) on its own sockets
	InpodMask         = 0xfff // InpodMask
	InpodTProxyMark   = 0x111 // InpodTProxyMark: connmark for ztunnel's spoofed-source connections
	InpodTProxyMask   = 0xfff // InpodTProxyMask
	RouteTableInbound = 100   // RouteTableInbound

	ZtunnelOutboundPort         = 15001
	ZtunnelInboundPlaintextPort = 15006
	ZtunnelInboundPort          = 15008 // HBONE
	DNSCapturePort              = 15053
)

// DefaultProbeSNAT is the address istio-cni SNATs node health probes to
// (HostProbeSNATAddress); the pod lets it through uncaptured.
var DefaultProbeSNAT = netip.MustParseAddr("169.254.7.127")

// rule is one nftables rule as the nft text istio's golden files show and the
// netlink expressions Apply programs, built side by side from matchers.
type rule struct {
	chain string
	text  string
	exprs []expr.Any
}

// part is one matcher or statement: its nft spelling and its expressions.
type part struct {
	text  string
	exprs []expr.Any
}

func newRule(chain string, parts ...part) rule {
	r := rule{chain: chain}
	for i, p := range parts {
		if i > 0 {
			r.text += " "
		}
		r.text += p.text
		r.exprs = append(r.exprs, p.exprs...)
	}
	return r
}

const reg1 = 1

func cmp(op expr.CmpOp, data []byte) *expr.Cmp { return &expr.Cmp{Op: op, Register: reg1, Data: data} }

func opOf(equal bool) expr.CmpOp {
	if equal {
		return expr.CmpOpEq
	}
	return expr.CmpOpNeq
}

func opText(equal bool) string {
	if equal {
		return "=="
	}
	return "!="
}

// l4proto is "meta l4proto tcp|udp".
func l4proto(proto byte) part {
	return part{text: "meta l4proto " + protoName(proto), exprs: l4protoExprs(proto)}
}

func l4protoExprs(proto byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}, cmp(expr.CmpOpEq, []byte{proto})}
}

func protoName(proto byte) string {
	if proto == unix.IPPROTO_UDP {
		return "udp"
	}
	return "tcp"
}

// ipAddr matches "ip saddr|daddr [!=] a"; in an inet table it implies
// "meta nfproto ipv4", which nft adds as a dependency as well. suffix is the
// spelling upstream uses ("/32" for the loopback checks).
func ipAddr(field string, equal bool, a netip.Addr, suffix string) part {
	offset := uint32(12)
	if field == "daddr" {
		offset = 16
	}
	ip := a.As4()
	text := fmt.Sprintf("ip %s %s%s", field, a, suffix)
	if !equal {
		text = fmt.Sprintf("ip %s != %s%s", field, a, suffix)
	}
	return part{text: text, exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		cmp(expr.CmpOpEq, []byte{unix.NFPROTO_IPV4}),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		cmp(opOf(equal), ip[:]),
	}}
}

// port matches "tcp|udp dport|sport [!=] p".
func port(proto byte, field string, equal bool, p uint16) part {
	offset := uint32(2)
	if field == "sport" {
		offset = 0
	}
	text := fmt.Sprintf("%s %s %d", protoName(proto), field, p)
	if !equal {
		text = fmt.Sprintf("%s %s != %d", protoName(proto), field, p)
	}
	return part{text: text, exprs: append(l4protoExprs(proto),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		cmp(opOf(equal), binaryutil.BigEndian.PutUint16(p)),
	)}
}

// markMasked matches "<prefix> <op> value" on (meta mark & mask); prefix keeps
// upstream's varying spellings ("mark and 0xfff ", "meta mark & 0xfff").
func markMasked(prefix string, equal bool, mask, value uint32) part {
	return part{text: fmt.Sprintf("%s %s %#x", prefix, opText(equal), value), exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		cmp(opOf(equal), binaryutil.NativeEndian.PutUint32(value)),
	}}
}

// ctMarkMasked matches "ct mark and mask == value".
func ctMarkMasked(mask, value uint32) part {
	return part{text: fmt.Sprintf("ct mark and %#x == %#x", mask, value), exprs: []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		cmp(expr.CmpOpEq, binaryutil.NativeEndian.PutUint32(value)),
	}}
}

// ifname matches "iifname|oifname [!=] name" (names are compared as IFNAMSIZ
// NUL-padded strings, as nft does).
func ifname(key expr.MetaKey, equal bool, name string) part {
	kw := "oifname"
	if key == expr.MetaKeyIIFNAME {
		kw = "iifname"
	}
	text := kw + " " + name
	if !equal {
		text = kw + " != " + name
	}
	padded := make([]byte, unix.IFNAMSIZ)
	copy(padded, name)
	return part{text: text, exprs: []expr.Any{&expr.Meta{Key: key, Register: reg1}, cmp(opOf(equal), padded)}}
}

var counter = part{text: "counter", exprs: []expr.Any{&expr.Counter{}}}

func verdict(kind expr.VerdictKind, text string) part {
	return part{text: text, exprs: []expr.Any{&expr.Verdict{Kind: kind}}}
}

var (
	accept    = verdict(expr.VerdictAccept, "accept")
	returnVdt = verdict(expr.VerdictReturn, "return")
)

func jump(target string) part {
	return part{text: "jump " + target, exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: target}}}
}

// redirectTo is nat REDIRECT to a local port; the original destination stays
// readable through SO_ORIGINAL_DST.
func redirectTo(p uint16) part {
	return part{text: fmt.Sprintf("redirect to :%d", p), exprs: []expr.Any{
		&expr.Immediate{Register: reg1, Data: binaryutil.BigEndian.PutUint16(p)},
		&expr.Redir{RegisterProtoMin: reg1},
	}}
}

// saveConnmark is "ct mark set ct mark & 0xfffff000 | 0x111" (spelled with
// upstream's double space).
func saveConnmark() part {
	return part{text: fmt.Sprintf("ct mark set ct mark & 0xfffff000 |  %#x", InpodTProxyMark), exprs: []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(InpodTProxyMask)), Xor: binaryutil.NativeEndian.PutUint32(InpodTProxyMark)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1, SourceRegister: true},
	}}
}

// restoreConnmark is "meta mark set ct mark".
func restoreConnmark() part {
	return part{text: "meta mark set ct mark", exprs: []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1, SourceRegister: true},
	}}
}

// ctZone is "ct zone set n": DNS between ztunnel and upstream resolvers gets a
// conntrack zone of its own (istio#33469).
func ctZone(zone uint16) part {
	return part{text: fmt.Sprintf("ct zone set %d", zone), exprs: []expr.Any{
		&expr.Immediate{Register: reg1, Data: binaryutil.NativeEndian.PutUint16(zone)},
		&expr.Ct{Key: expr.CtKeyZONE, Register: reg1, SourceRegister: true},
	}}
}

const (
	exprMetaIIFNAME = expr.MetaKeyIIFNAME
	exprMetaOIFNAME = expr.MetaKeyOIFNAME
)
