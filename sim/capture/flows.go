package capture

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// segment is one TCP segment of a captured frame.
type segment struct {
	packet   int // index in the capture
	src, dst netip.AddrPort
	seq      uint32
	syn, ack bool
	payload  []byte
}

// tcpSegment decodes the TCP segment of an Ethernet frame, if it has one.
func tcpSegment(i int, data []byte) (segment, bool) {
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	var src, dst netip.Addr
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
	default:
		return segment{}, false
	}
	tcp, ok := pkt.TransportLayer().(*layers.TCP)
	if !ok {
		return segment{}, false
	}
	return segment{packet: i, src: netip.AddrPortFrom(src, uint16(tcp.SrcPort)), dst: netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
		seq: tcp.Seq, syn: tcp.SYN, ack: tcp.ACK, payload: tcp.Payload}, true
}

// stream is one direction of a TCP connection, as captured.
type stream struct {
	segs   []segment
	sawSYN bool
	isn    uint32 // initial sequence number, when sawSYN
}

// Flow is one TCP connection seen in a capture, oriented client → server
// (by its SYN when captured, else the higher port is taken as the client's).
type Flow struct {
	Client, Server netip.AddrPort
	Segments       int
	// ClientBytes and ServerBytes are payload bytes each side sent.
	ClientBytes, ServerBytes int
	// FromStart: the handshake was captured, so the streams' first bytes
	// are the connection's first bytes (needed to walk TLS records).
	FromStart bool

	toServer, toClient stream
}

func (f *Flow) String() string {
	start := ""
	if !f.FromStart {
		start = ", joined mid-stream"
	}
	return fmt.Sprintf("%s → %s: %d segments, %d+%d payload bytes%s", f.Client, f.Server, f.Segments, f.ClientBytes, f.ServerBytes, start)
}

type connKey struct{ a, b netip.AddrPort }

func keyOf(s segment) connKey {
	if s.src.Addr().Less(s.dst.Addr()) || (s.src.Addr() == s.dst.Addr() && s.src.Port() < s.dst.Port()) {
		return connKey{s.src, s.dst}
	}
	return connKey{s.dst, s.src}
}

// Flows groups the TCP segments of packets into connections, in the order
// their first segment was captured.
func Flows(packets []Packet) []*Flow {
	segsOf := map[connKey][]segment{}
	var order []connKey
	for i, p := range packets {
		s, ok := tcpSegment(i, p.Data)
		if !ok {
			continue
		}
		k := keyOf(s)
		if _, seen := segsOf[k]; !seen {
			order = append(order, k)
		}
		segsOf[k] = append(segsOf[k], s)
	}
	out := make([]*Flow, 0, len(order))
	for _, k := range order {
		out = append(out, orient(segsOf[k]))
	}
	return out
}

// orient decides which side is the client and splits the segments into the
// two directions.
func orient(segs []segment) *Flow {
	client, server := segs[0].src, segs[0].dst
	oriented := false
	for _, s := range segs {
		if s.syn && !s.ack {
			client, server, oriented = s.src, s.dst, true
			break
		}
		if s.syn && s.ack && !oriented {
			client, server, oriented = s.dst, s.src, true
		}
	}
	if !oriented && client.Port() < server.Port() {
		client, server = server, client
	}
	f := &Flow{Client: client, Server: server, Segments: len(segs)}
	for _, s := range segs {
		st := &f.toServer
		if s.src == server {
			st = &f.toClient
			f.ServerBytes += len(s.payload)
		} else {
			f.ClientBytes += len(s.payload)
		}
		if s.syn {
			st.sawSYN, st.isn = true, s.seq
		}
		st.segs = append(st.segs, s)
	}
	f.FromStart = f.toServer.sawSYN && f.toClient.sawSYN
	return f
}

// chunk is a contiguous run of reassembled stream bytes.
type chunk struct {
	fromStart bool // begins at the stream's first byte
	data      []byte
	packets   []int // capture indexes of the segments that contributed
}

// reassemble orders a stream's payload by sequence number, drops
// retransmitted overlaps and splits it where segments are missing, so a
// search sees data exactly as the receiver did, even when one write was cut
// into several segments (or several merged into one).
func (st *stream) reassemble() []chunk {
	var segs []segment
	for _, s := range st.segs {
		if len(s.payload) > 0 {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return nil
	}
	base := segs[0].seq
	if st.sawSYN {
		base = st.isn + 1
	}
	// Offsets are relative to base modulo 2^32; anything "before" base
	// (a retransmission of bytes sent before the capture) is dropped here —
	// the per-packet search still sees it.
	rel := func(s segment) int64 { return int64(int32(s.seq - base)) }
	sort.SliceStable(segs, func(i, j int) bool { return rel(segs[i]) < rel(segs[j]) })
	var out []chunk
	var cur *chunk
	var end int64 // relative offset just past cur's data
	for _, s := range segs {
		off := rel(s)
		if off < 0 {
			continue
		}
		if cur == nil || off > end {
			out = append(out, chunk{fromStart: off == 0 && st.sawSYN})
			cur, end = &out[len(out)-1], off
		}
		if skip := end - off; skip < int64(len(s.payload)) {
			cur.data = append(cur.data, s.payload[skip:]...)
			cur.packets = append(cur.packets, s.packet)
			end = off + int64(len(s.payload))
		}
	}
	return out
}
