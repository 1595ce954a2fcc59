package dnsserver

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func testZone() *Zone {
	return &Zone{
		Domain: "cluster.local",
		DNSIP:  ip("198.18.16.10"),
		Services: []Service{
			{Namespace: "ns1", Name: "db", Headless: true,
				Ports: []Port{{Name: "mysql", Protocol: "TCP", Port: 3306}, {Protocol: "TCP", Port: 9}},
				Endpoints: []Endpoint{
					{Pod: "ns1/db-0", IP: ip("198.19.0.3"), TargetPorts: map[string]uint16{"mysql": 3306}},
					{Pod: "ns1/other", IP: ip("198.19.1.4"), TargetPorts: map[string]uint16{"mysql": 3307}},
				}},
			{Namespace: "ns1", Name: "httpbin", ClusterIP: ip("198.18.16.20"),
				Ports:     []Port{{Name: "http", Protocol: "TCP", Port: 8000}, {Name: "dns", Protocol: "UDP", Port: 53}},
				Endpoints: []Endpoint{{Pod: "ns1/httpbin-0", IP: ip("198.19.0.2"), TargetPorts: map[string]uint16{"http": 80}}}},
		},
		Pods: []Pod{
			{Namespace: "ns1", Name: "db-0", IP: ip("198.19.0.3"), Hostname: "db-0", Subdomain: "db"},
			{Namespace: "ns1", Name: "httpbin-0", IP: ip("198.19.0.2"), Hostname: "httpbin-0"},
			{Namespace: "ns1", Name: "other", IP: ip("198.19.1.4")},
			// Its subdomain names no headless Service in ns2: no hostname record.
			{Namespace: "ns2", Name: "lonely", IP: ip("198.19.1.5"), Hostname: "h", Subdomain: "db"},
		},
	}
}

// rrs renders records compactly as "name TYPE rdata".
func rrs(rs []dns.RR) []string {
	var out []string
	for _, r := range rs {
		f := strings.Fields(r.String())
		out = append(out, f[0]+" "+f[3]+" "+strings.Join(f[4:], " "))
	}
	return out
}

func TestAnswer(t *testing.T) {
	const soa = "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local."
	z := testZone()
	if err := z.compile(); err != nil {
		t.Fatal(err)
	}
	soaFull := fmt.Sprintf("%s %d 7200 1800 86400 5", soa, z.idx.serial)
	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		rcode    int
		answer   []string
		extra    []string
		wantSOA  bool // SOA in authority
		notAuth  bool
		mutation func(*dns.Msg)
	}{
		{name: "service A", qname: "httpbin.ns1.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"httpbin.ns1.svc.cluster.local. A 198.18.16.20"}},
		{name: "case insensitive, answered as asked", qname: "HTTPBIN.Ns1.SVC.Cluster.Local.", qtype: dns.TypeA,
			answer: []string{"HTTPBIN.Ns1.SVC.Cluster.Local. A 198.18.16.20"}},
		{name: "headless A lists endpoints", qname: "db.ns1.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db.ns1.svc.cluster.local. A 198.19.0.3", "db.ns1.svc.cluster.local. A 198.19.1.4"}},
		{name: "headless endpoint by pod hostname", qname: "db-0.db.ns1.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db-0.db.ns1.svc.cluster.local. A 198.19.0.3"}},
		{name: "headless endpoint by dashed IP", qname: "198-19-1-4.db.ns1.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"198-19-1-4.db.ns1.svc.cluster.local. A 198.19.1.4"}},
		{name: "pod A", qname: "198-19-0-2.ns1.pod.cluster.local.", qtype: dns.TypeA,
			answer: []string{"198-19-0-2.ns1.pod.cluster.local. A 198.19.0.2"}},
		{name: "pod A wrong namespace", qname: "198-19-0-2.ns2.pod.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, wantSOA: true},
		{name: "hostname without headless service", qname: "h.db.ns2.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, wantSOA: true},
		{name: "SRV ClusterIP", qname: "_http._tcp.httpbin.ns1.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.httpbin.ns1.svc.cluster.local. SRV 0 100 8000 httpbin.ns1.svc.cluster.local."},
			extra:  []string{"httpbin.ns1.svc.cluster.local. A 198.18.16.20"}},
		{name: "SRV udp port", qname: "_dns._udp.httpbin.ns1.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.httpbin.ns1.svc.cluster.local. SRV 0 100 53 httpbin.ns1.svc.cluster.local."},
			extra:  []string{"httpbin.ns1.svc.cluster.local. A 198.18.16.20"}},
		{name: "SRV headless uses endpoint names and target ports", qname: "_mysql._tcp.db.ns1.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_mysql._tcp.db.ns1.svc.cluster.local. SRV 0 50 3306 db-0.db.ns1.svc.cluster.local.",
				"_mysql._tcp.db.ns1.svc.cluster.local. SRV 0 50 3307 198-19-1-4.db.ns1.svc.cluster.local."},
			extra: []string{"db-0.db.ns1.svc.cluster.local. A 198.19.0.3", "198-19-1-4.db.ns1.svc.cluster.local. A 198.19.1.4"}},
		{name: "SRV wrong protocol", qname: "_http._udp.httpbin.ns1.svc.cluster.local.", qtype: dns.TypeSRV,
			rcode: dns.RcodeNameError, wantSOA: true},
		{name: "PTR service", qname: "20.16.18.198.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"20.16.18.198.in-addr.arpa. PTR httpbin.ns1.svc.cluster.local."}},
		{name: "PTR headless endpoint", qname: "3.0.19.198.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"3.0.19.198.in-addr.arpa. PTR db-0.db.ns1.svc.cluster.local."}},
		{name: "PTR plain pod", qname: "5.1.19.198.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"5.1.19.198.in-addr.arpa. PTR 198-19-1-5.ns2.pod.cluster.local."}},
		{name: "PTR unknown IP refused", qname: "9.9.9.9.in-addr.arpa.", qtype: dns.TypePTR, rcode: dns.RcodeRefused, notAuth: true},
		{name: "NXDOMAIN in domain", qname: "nope.ns1.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, wantSOA: true},
		{name: "NODATA AAAA", qname: "httpbin.ns1.svc.cluster.local.", qtype: dns.TypeAAAA, wantSOA: true},
		{name: "NODATA TXT", qname: "httpbin.ns1.svc.cluster.local.", qtype: dns.TypeTXT, wantSOA: true},
		{name: "NODATA empty non-terminal", qname: "ns1.svc.cluster.local.", qtype: dns.TypeA, wantSOA: true},
		{name: "outside domain refused", qname: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused, notAuth: true},
		{name: "label-aware suffix", qname: "notcluster.local.", qtype: dns.TypeA, rcode: dns.RcodeRefused, notAuth: true},
		{name: "search-path miss refused", qname: "www.google.com.ns1.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, wantSOA: true},
		{name: "apex SOA", qname: "cluster.local.", qtype: dns.TypeSOA, answer: []string{soaFull}},
		{name: "apex NS", qname: "cluster.local.", qtype: dns.TypeNS,
			answer: []string{"cluster.local. NS ns.dns.cluster.local."}, extra: []string{"ns.dns.cluster.local. A 198.18.16.10"}},
		{name: "DNS service name", qname: "ns.dns.cluster.local.", qtype: dns.TypeA, answer: []string{"ns.dns.cluster.local. A 198.18.16.10"}},
		{name: "not a query", qname: "httpbin.ns1.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNotImplemented, notAuth: true,
			mutation: func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }},
		{name: "no question", rcode: dns.RcodeFormatError, notAuth: true, mutation: func(m *dns.Msg) { m.Question = nil }},
		{name: "two questions", qname: "a.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeFormatError, notAuth: true,
			mutation: func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }},
		{name: "chaos class refused", qname: "version.bind.", qtype: dns.TypeTXT, rcode: dns.RcodeRefused, notAuth: true,
			mutation: func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion(tc.qname, tc.qtype)
			if tc.mutation != nil {
				tc.mutation(req)
			}
			resp := Answer(z, req)
			if resp.Id != req.Id || !resp.Response {
				t.Errorf("not a reply to the request: id %d/%d", resp.Id, req.Id)
			}
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.Authoritative == tc.notAuth {
				t.Errorf("AA = %v", resp.Authoritative)
			}
			if got := rrs(resp.Answer); !slices.Equal(got, tc.answer) {
				t.Errorf("answer = %q\nwant %q", got, tc.answer)
			}
			if got := rrs(resp.Extra); !slices.Equal(got, tc.extra) {
				t.Errorf("extra = %q\nwant %q", got, tc.extra)
			}
			gotSOA := len(resp.Ns) == 1 && strings.HasPrefix(rrs(resp.Ns)[0], soa)
			if gotSOA != tc.wantSOA || (!tc.wantSOA && len(resp.Ns) > 0) {
				t.Errorf("authority = %q, want SOA: %v", rrs(resp.Ns), tc.wantSOA)
			}
			for _, rr := range append(resp.Answer, resp.Ns...) {
				if rr.Header().Ttl != TTL {
					t.Errorf("TTL %d on %s", rr.Header().Ttl, rr)
				}
			}
		})
	}
}

func TestAnswerEchoesEDNS(t *testing.T) {
	req := new(dns.Msg)
	req.SetQuestion("httpbin.ns1.svc.cluster.local.", dns.TypeA)
	req.SetEdns0(1232, false)
	opt := Answer(testZone(), req).IsEdns0()
	if opt == nil || opt.UDPSize() != 1232 {
		t.Fatalf("OPT = %v", opt)
	}
}

func TestInvalidZoneIsServfail(t *testing.T) {
	z := &Zone{Domain: "cluster.local", Services: []Service{{Namespace: "ns", Name: "x"}}} // ClusterIP missing
	req := new(dns.Msg)
	req.SetQuestion("x.ns.svc.cluster.local.", dns.TypeA)
	if rc := Answer(z, req).Rcode; rc != dns.RcodeServerFailure {
		t.Fatalf("rcode = %s", dns.RcodeToString[rc])
	}
}

func TestWriteLoadZoneRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zone.json")
	if err := WriteZone(path, testZone()); err != nil {
		t.Fatal(err)
	}
	z, err := LoadZone(path)
	if err != nil {
		t.Fatal(err)
	}
	req := new(dns.Msg)
	req.SetQuestion("_mysql._tcp.db.ns1.svc.cluster.local.", dns.TypeSRV)
	if got, want := rrs(Answer(z, req).Answer), rrs(Answer(testZone(), req).Answer); !slices.Equal(got, want) {
		t.Errorf("loaded zone answers %q, want %q", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestLoadZoneRejects(t *testing.T) {
	tests := map[string]string{
		"unknown field":    `{"domain":"cluster.local","servces":[]}`,
		"trailing data":    `{"domain":"cluster.local"} {}`,
		"empty domain":     `{"domain":""}`,
		"bad domain":       `{"domain":"a..b"}`,
		"bad ip":           `{"domain":"cluster.local","pods":[{"namespace":"a","name":"b","ip":"300.1.1.1"}]}`,
		"ipv6 pod":         `{"domain":"cluster.local","pods":[{"namespace":"a","name":"b","ip":"::1"}]}`,
		"dotted namespace": `{"domain":"cluster.local","services":[{"namespace":"a.b","name":"s","clusterIP":"10.0.0.1"}]}`,
		"bad protocol":     `{"domain":"cluster.local","services":[{"namespace":"a","name":"s","clusterIP":"10.0.0.1","ports":[{"name":"p","protocol":"ICMP","port":1}]}]}`,
		"not json":         `domain: cluster.local`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "zone.json")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadZone(path); err == nil {
				t.Fatal("LoadZone accepted an invalid zone")
			}
		})
	}
	if _, err := LoadZone(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("LoadZone accepted a missing file")
	}
}

// FuzzLoadZone feeds arbitrary files to LoadZone: it must never panic, and a
// zone it accepts must answer every name it knows without panicking.
func FuzzLoadZone(f *testing.F) {
	path := filepath.Join(f.TempDir(), "zone.json")
	if err := WriteZone(path, testZone()); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte(`{"domain":"cluster.local"}`))
	f.Add([]byte(`{"domain":"x","services":[{"namespace":"a","name":"b","headless":true,"endpoints":[{"pod":"a/c","ip":"1.2.3.4","targetPorts":{"":0}}]}]}`))
	f.Add([]byte(`{"domain":"cluster.local","pods":[{"namespace":"a","name":"b","ip":"1.2.3.4","hostname":"A_B","subdomain":"s"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "zone.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		z, err := LoadZone(p)
		if err != nil {
			return
		}
		for name := range z.idx.names {
			for _, qt := range []uint16{dns.TypeA, dns.TypeSRV, dns.TypeAAAA} {
				req := new(dns.Msg)
				req.SetQuestion(name, qt)
				resp := Answer(z, req)
				if resp.Rcode != dns.RcodeSuccess {
					t.Fatalf("known name %q answered %s", name, dns.RcodeToString[resp.Rcode])
				}
				if _, err := resp.Pack(); err != nil {
					t.Fatalf("answer for %q does not pack: %v", name, err)
				}
			}
		}
	})
}
