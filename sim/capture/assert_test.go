package capture

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	client = netip.MustParseAddrPort("198.19.1.2:40000")
	server = netip.MustParseAddrPort("198.19.0.3:80")
)

type segSpec struct {
	src, dst netip.AddrPort
	seq      uint32
	syn, ack bool
	payload  string
}

// frame serializes an Ethernet/IPv4/TCP frame, as the fabric carries it.
func frame(t *testing.T, s segSpec) Packet {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: s.src.Addr().AsSlice(), DstIP: s.dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.src.Port()), DstPort: layers.TCPPort(s.dst.Port()), Seq: s.seq, SYN: s.syn, ACK: s.ack, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(s.payload)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	return Packet{Info: gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(data), Length: len(data)}, Data: data}
}

func frames(t *testing.T, specs ...segSpec) []Packet {
	var out []Packet
	for _, s := range specs {
		out = append(out, frame(t, s))
	}
	return out
}

// handshake is a captured three-way handshake with ISNs 1000 (client) and 5000 (server).
var handshake = []segSpec{
	{src: client, dst: server, seq: 1000, syn: true},
	{src: server, dst: client, seq: 5000, syn: true, ack: true},
	{src: client, dst: server, seq: 1001, ack: true},
}

func TestNoPlaintext(t *testing.T) {
	const canary = "canary-0123456789abcdef"
	cases := []struct {
		name    string
		segs    []segSpec
		wantErr string // "" means the check passes
	}{
		{"absent", append(handshake, segSpec{src: client, dst: server, seq: 1001, ack: true, payload: "GET / HTTP/1.1\r\n\r\n"}), ""},
		{"in one segment", append(handshake, segSpec{src: client, dst: server, seq: 1001, ack: true, payload: "X-C: " + canary + "\r\n"}),
			"frame #4 (TCP 198.19.1.2:40000 → 198.19.0.3:80"},
		{"in the response", append(handshake, segSpec{src: server, dst: client, seq: 5001, ack: true, payload: "echo " + canary}),
			"frame #4 (TCP 198.19.0.3:80 → 198.19.1.2:40000"},
		{"split across two segments", append(handshake,
			segSpec{src: client, dst: server, seq: 1001, ack: true, payload: "xx" + canary[:10]},
			segSpec{src: client, dst: server, seq: 1013, ack: true, payload: canary[10:] + "yy"}),
			"TCP stream 198.19.1.2:40000 → 198.19.0.3:80, split across frames #4,#5"},
		{"split, out of order, with a retransmission", append(handshake,
			segSpec{src: client, dst: server, seq: 1013, ack: true, payload: canary[10:]},
			segSpec{src: client, dst: server, seq: 1001, ack: true, payload: "xx" + canary[:10]},
			segSpec{src: client, dst: server, seq: 1001, ack: true, payload: "xx" + canary[:10]}),
			"split across frames #5,#4"},
		{"split with a hole between is not contiguous", append(handshake,
			segSpec{src: client, dst: server, seq: 1001, ack: true, payload: canary[:10]},
			segSpec{src: client, dst: server, seq: 1100, ack: true, payload: canary[10:]}), ""},
		{"joined mid-stream, split", []segSpec{
			{src: client, dst: server, seq: 77, ack: true, payload: canary[:5]},
			{src: client, dst: server, seq: 82, ack: true, payload: canary[5:]}}, "split across frames #1,#2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := NoPlaintext(frames(t, tc.segs...), []byte(canary))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected failure: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatal("the canary was not detected")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
	if err := NoPlaintext(nil, nil); err == nil {
		t.Error("an empty canary passed")
	}
}

func TestFlowsOrientationAndPorts(t *testing.T) {
	hbone := netip.MustParseAddrPort("198.19.0.3:15008")
	pkts := frames(t,
		// joined mid-stream: no SYN, so the higher port is the client's
		segSpec{src: hbone, dst: client, seq: 9, ack: true, payload: "abc"},
		segSpec{src: client, dst: hbone, seq: 1, ack: true, payload: "defg"},
		// a refused connection: SYN only, no payload
		segSpec{src: client, dst: netip.MustParseAddrPort("198.19.0.3:9999"), seq: 1, syn: true},
	)
	pkts = append(pkts, frames(t, append(handshake, segSpec{src: client, dst: server, seq: 1001, ack: true, payload: "hi"})...)...)
	flows := Flows(pkts)
	if len(flows) != 3 {
		t.Fatalf("got %d flows, want 3: %v", len(flows), flows)
	}
	if f := flows[0]; f.Client != client || f.Server != hbone || f.ClientBytes != 4 || f.ServerBytes != 3 || f.FromStart {
		t.Errorf("mid-stream flow: %v", f)
	}
	if f := flows[2]; !f.FromStart || f.Server != server {
		t.Errorf("handshake flow: %v", f)
	}
	if got := PayloadByServerPort(flows); len(got) != 2 || got[15008] != 7 || got[80] != 2 {
		t.Errorf("payload by port = %v", got)
	}
	if err := OnlyPorts(flows, 15008, 80); err != nil {
		t.Errorf("OnlyPorts(15008, 80): %v", err)
	}
	err := OnlyPorts(flows, 15008)
	if err == nil || !strings.Contains(err.Error(), "198.19.1.2:40000 → 198.19.0.3:80") || strings.Contains(err.Error(), "9999") {
		t.Errorf("OnlyPorts(15008) = %v, want the port-80 flow named and the empty one ignored", err)
	}
	if got := Involving(flows, server.Addr()); len(got) != 3 {
		t.Errorf("Involving(server) = %d flows", len(got))
	}
	if got := Involving(flows, netip.MustParseAddr("10.0.0.1")); len(got) != 0 {
		t.Errorf("Involving(other) = %d flows", len(got))
	}
}

func tlsRecord(typ byte, ver uint16, body string) string {
	n := len(body)
	return string([]byte{typ, byte(ver >> 8), byte(ver), byte(n >> 8), byte(n)}) + body
}

func TestWalkTLSRecords(t *testing.T) {
	cases := []struct {
		name, in, wantWhy string
	}{
		{"client hello then data", tlsRecord(0x16, 0x0301, "hello") + tlsRecord(0x17, 0x0303, "secret"), ""},
		{"tls 1.3 compat change cipher spec", tlsRecord(0x16, 0x0303, "sh") + tlsRecord(0x14, 0x0303, "\x01") + tlsRecord(0x17, 0x0303, "x"), ""},
		{"last record cut by the capture", tlsRecord(0x17, 0x0303, "abcdef")[:8], ""},
		{"last header cut by the capture", tlsRecord(0x17, 0x0303, "ab") + "\x17\x03", ""},
		{"plaintext http", "GET / HTTP/1.1\r\n", "content type 0x47 is not TLS"},
		{"application data with an old version", tlsRecord(0x17, 0x0301, "x"), "version 0x0301"},
		{"version from the future", tlsRecord(0x16, 0x0304, "x"), "version 0x0304"},
		{"garbage after a record", tlsRecord(0x16, 0x0303, "x") + "PING PONG", "record 2 at byte 6: content type 0x50"},
		{"zero length", tlsRecord(0x16, 0x0303, ""), "length 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			why := walkTLSRecords([]byte(tc.in))
			if (tc.wantWhy == "") != (why == "") || !strings.Contains(why, tc.wantWhy) {
				t.Fatalf("walkTLSRecords = %q, want %q", why, tc.wantWhy)
			}
		})
	}
}

func TestFlowTLSVerdicts(t *testing.T) {
	hbone := netip.MustParseAddrPort("198.19.0.3:15008")
	hs := []segSpec{{src: client, dst: hbone, seq: 1000, syn: true}, {src: hbone, dst: client, seq: 5000, syn: true, ack: true}}
	tlsFlow := append(append([]segSpec(nil), hs...),
		segSpec{src: client, dst: hbone, seq: 1001, ack: true, payload: tlsRecord(0x16, 0x0301, "hello")},
		segSpec{src: hbone, dst: client, seq: 5001, ack: true, payload: tlsRecord(0x16, 0x0303, "server")})
	plainFlow := append(append([]segSpec(nil), hs...), segSpec{src: client, dst: hbone, seq: 1001, ack: true, payload: "CONNECT x"})
	midStream := []segSpec{{src: client, dst: hbone, seq: 42, ack: true, payload: "whatever"}}
	for _, tc := range []struct {
		name string
		segs []segSpec
		want TLSVerdict
	}{
		{"tls", tlsFlow, TLSRecords}, {"plain", plainFlow, TLSNotRecords}, {"mid-stream", midStream, TLSUnknown}, {"empty", hs, TLSNoPayload},
	} {
		flows := Flows(frames(t, tc.segs...))
		if v, why := flows[0].TLS(); v != tc.want {
			t.Errorf("%s: verdict %s (%s), want %s", tc.name, v, why, tc.want)
		}
	}
	n, err := OnlyTLSOnPort(Flows(frames(t, plainFlow...)), 15008)
	if err == nil || n != 0 || !strings.Contains(err.Error(), "content type 0x43") {
		t.Errorf("OnlyTLSOnPort(plain) = %d, %v", n, err)
	}
	if n, err := OnlyTLSOnPort(Flows(frames(t, tlsFlow...)), 15008); err != nil || n != 1 {
		t.Errorf("OnlyTLSOnPort(tls) = %d, %v", n, err)
	}
}

func TestPcapRoundTrip(t *testing.T) {
	pkts := frames(t, handshake...)
	path := filepath.Join(t.TempDir(), "sub", "c.pcap")
	if err := WritePcap(path, pkts); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pkts) {
		t.Fatalf("read %d packets, wrote %d", len(got), len(pkts))
	}
	for i := range got {
		if string(got[i].Data) != string(pkts[i].Data) || !got[i].Info.Timestamp.Equal(pkts[i].Info.Timestamp) {
			t.Errorf("packet %d differs after the round trip", i)
		}
	}
}
