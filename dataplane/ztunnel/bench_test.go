package ztunnel

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// BenchmarkOutboundInboundRTT is 1 KiB ping-pong through the full pair
// (app → :15001 → HBONE over mTLS → :15008 → app, two proxies on
// loopback) interleaved with the same ping-pong over raw TCP to the same
// app, so both see the same machine load (perf-method.md §2: sequential
// latency, configs interleaved). It reports p50/p99 of each and the p50
// ratio; ztunnel's own HBONE pair is 4.1× raw (perf-method.md Z4).
func BenchmarkOutboundInboundRTT(b *testing.B) {
	tn := newTwoNodes(b)
	mesh := tn.mesh.dialOutbound(b, tn.client, netip.MustParseAddrPort("10.96.0.1:80"))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	rawConn, err := d.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), tn.app.port()).String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rawConn.Close() })
	type peer struct {
		c  net.Conn
		br *bufio.Reader
	}
	peers := []peer{{rawConn, bufio.NewReader(rawConn)}, {mesh, bufio.NewReader(mesh)}}
	for _, p := range peers {
		if _, err := p.br.ReadString('\n'); err != nil { // the app's greeting
			b.Fatal(err)
		}
	}
	msg, buf := make([]byte, 1024), make([]byte, 1024)
	rtt := func(p peer) time.Duration {
		start := time.Now()
		if _, err := p.c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(p.br, buf); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 200 { // warm-up: pools, buffers, TCP windows
		rtt(peers[0])
		rtt(peers[1])
	}
	raw, pair := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.SetBytes(2 * 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		raw = append(raw, rtt(peers[0]))
		pair = append(pair, rtt(peers[1]))
	}
	b.StopTimer()
	us := func(ds []time.Duration, q float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(q*float64(len(ds)-1))].Nanoseconds()) / 1e3
	}
	rawP50, pairP50 := us(raw, 0.5), us(pair, 0.5)
	b.ReportMetric(rawP50, "raw-p50-us")
	b.ReportMetric(us(raw, 0.99), "raw-p99-us")
	b.ReportMetric(pairP50, "pair-p50-us")
	b.ReportMetric(us(pair, 0.99), "pair-p99-us")
	b.ReportMetric(pairP50/rawP50, "p50-ratio")
}
