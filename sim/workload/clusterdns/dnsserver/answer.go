package dnsserver

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// TTL is the TTL of every answer, as short as CoreDNS's default for the
// kubernetes plugin so that scenario changes propagate quickly.
const TTL = 5

// SOA timers, as CoreDNS's kubernetes plugin sets them.
const (
	soaRefresh = 7200
	soaRetry   = 1800
	soaExpire  = 86400
)

// Answer computes the response to req from z, like CoreDNS's kubernetes plugin
// without an upstream:
//   - <svc>.<ns>.svc.<domain> A: the ClusterIP, or every endpoint IP when headless;
//   - <hostname|a-b-c-d>.<svc>.<ns>.svc.<domain> A: one headless endpoint;
//   - <a-b-c-d>.<ns>.pod.<domain> A: a pod with that IP in that namespace;
//   - _<port>._<proto>.<svc>.<ns>.svc.<domain> SRV, with the targets' A records as extras;
//   - PTR for Service and pod IPs;
//   - unknown names in the domain: NXDOMAIN, SOA in authority; known names of
//     another type: NODATA (NOERROR, no answers, SOA in authority);
//   - anything else: REFUSED. Nothing is ever forwarded.
//
// Lookups ignore case; answers repeat the question's name as asked. Answer
// does no truncation: that depends on the transport (see Server).
func Answer(z *Zone, req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	if opt := req.IsEdns0(); opt != nil {
		// Echo EDNS0 so the client may use its larger UDP size.
		resp.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	case len(req.Question) != 1:
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	if err := z.compile(); err != nil {
		resp.Rcode = dns.RcodeServerFailure
		return resp
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	name := dns.CanonicalName(q.Name)
	idx := z.idx
	switch {
	case dns.IsSubDomain(idx.domain, name):
		idx.answerCluster(resp, q, name, z)
	case strings.HasSuffix(name, ".in-addr.arpa."):
		idx.answerReverse(resp, q, name)
	default:
		resp.Rcode = dns.RcodeRefused
	}
	return resp
}

func (idx *index) answerCluster(resp *dns.Msg, q dns.Question, name string, z *Zone) {
	resp.Authoritative = true
	n, ok := idx.names[name]
	if !ok {
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{idx.soa()}
		return
	}
	switch q.Qtype {
	case dns.TypeA, dns.TypeANY:
		for _, ip := range n.a {
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: net.IP(ip.AsSlice())})
		}
	case dns.TypeSRV:
		// CoreDNS splits weight 100 evenly across the records of one priority.
		weight := uint16(100 / max(len(n.srv), 1))
		for _, t := range n.srv {
			resp.Answer = append(resp.Answer, &dns.SRV{Hdr: hdr(q.Name, dns.TypeSRV), Priority: 0, Weight: weight, Port: t.port, Target: t.target})
			if tn, ok := idx.names[t.target]; ok {
				for _, ip := range tn.a {
					resp.Extra = append(resp.Extra, &dns.A{Hdr: hdr(t.target, dns.TypeA), A: net.IP(ip.AsSlice())})
				}
			}
		}
	case dns.TypeSOA:
		if name == idx.domain {
			resp.Answer = append(resp.Answer, idx.soa())
		}
	case dns.TypeNS:
		if name == idx.domain {
			ns := "ns.dns." + idx.domain
			resp.Answer = append(resp.Answer, &dns.NS{Hdr: hdr(q.Name, dns.TypeNS), Ns: ns})
			if z.DNSIP.Is4() {
				resp.Extra = append(resp.Extra, &dns.A{Hdr: hdr(ns, dns.TypeA), A: net.IP(z.DNSIP.AsSlice())})
			}
		}
	}
	if len(resp.Answer) == 0 {
		resp.Ns = []dns.RR{idx.soa()}
	}
}

// answerReverse answers PTR for the cluster's own IPs. Other reverse names are
// refused: the simulator is authoritative only for addresses it assigned.
func (idx *index) answerReverse(resp *dns.Msg, q dns.Question, name string) {
	target, ok := idx.ptr[name]
	if !ok {
		resp.Rcode = dns.RcodeRefused
		return
	}
	resp.Authoritative = true
	if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
		resp.Answer = append(resp.Answer, &dns.PTR{Hdr: hdr(q.Name, dns.TypePTR), Ptr: target})
	}
}

func (idx *index) soa() dns.RR {
	return &dns.SOA{
		Hdr:     hdr(idx.domain, dns.TypeSOA),
		Ns:      "ns.dns." + idx.domain,
		Mbox:    "hostmaster." + idx.domain,
		Serial:  idx.serial,
		Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: TTL,
	}
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}
