package dnsserver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func startServer(t *testing.T, z *Zone) *Server {
	t.Helper()
	s := NewServer(z)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func query(t *testing.T, net, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	resp, _, err := c.Exchange(req, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", net, name, err)
	}
	return resp
}

func TestServerUDPAndTCP(t *testing.T) {
	s := startServer(t, testZone())
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			resp := query(t, network, s.Addr(), "httpbin.ns1.svc.cluster.local.", dns.TypeA)
			if got := rrs(resp.Answer); !slices.Equal(got, []string{"httpbin.ns1.svc.cluster.local. A 198.18.16.20"}) {
				t.Errorf("answer = %q", got)
			}
			if resp := query(t, network, s.Addr(), "www.example.com.", dns.TypeA); resp.Rcode != dns.RcodeRefused {
				t.Errorf("outside domain: %s", dns.RcodeToString[resp.Rcode])
			}
		})
	}
}

// TestServerTruncatesLargeUDP: a headless Service with many endpoints does not
// fit 512 bytes; UDP sets TC and TCP carries the full answer.
func TestServerTruncatesLargeUDP(t *testing.T) {
	z := &Zone{Domain: "cluster.local", Services: []Service{{Namespace: "ns", Name: "big", Headless: true}}}
	for i := range 100 {
		z.Services[0].Endpoints = append(z.Services[0].Endpoints, Endpoint{Pod: fmt.Sprint("ns/p", i), IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})})
	}
	s := startServer(t, z)
	udp := query(t, "udp", s.Addr(), "big.ns.svc.cluster.local.", dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("udp: truncated=%v answers=%d", udp.Truncated, len(udp.Answer))
	}
	if tcp := query(t, "tcp", s.Addr(), "big.ns.svc.cluster.local.", dns.TypeA); tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("tcp: truncated=%v answers=%d", tcp.Truncated, len(tcp.Answer))
	}
}

func TestServerSetZone(t *testing.T) {
	s := startServer(t, testZone())
	if resp := query(t, "udp", s.Addr(), "new.ns1.svc.cluster.local.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("before reload: %s", dns.RcodeToString[resp.Rcode])
	}
	z := testZone()
	z.Services = append(z.Services, Service{Namespace: "ns1", Name: "new", ClusterIP: ip("198.18.16.30")})
	s.SetZone(z)
	resp := query(t, "udp", s.Addr(), "new.ns1.svc.cluster.local.", dns.TypeA)
	if got := rrs(resp.Answer); !slices.Equal(got, []string{"new.ns1.svc.cluster.local. A 198.18.16.30"}) {
		t.Fatalf("after reload: %q", got)
	}
}
