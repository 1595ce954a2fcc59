package kubeproxy

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ep(pod, ip string, ports map[string]uint16) topology.Endpoint {
	return topology.Endpoint{Pod: pod, IP: netip.MustParseAddr(ip), TargetPorts: ports}
}

// fixtureServices covers every branch of build: multi-endpoint TCP with a named
// target port, TCP+UDP DNS, a named target port one endpoint lacks, a Service
// without endpoints, a headless Service and an unnamed numeric port.
func fixtureServices() []topology.Service {
	return []topology.Service{
		{Namespace: "default", Name: "httpbin", ClusterIP: netip.MustParseAddr("198.18.16.21"),
			Ports: []topology.ServicePort{{Name: "http", Port: 8000, Protocol: topology.ProtocolTCP, TargetPortName: "http"}},
			Endpoints: []topology.Endpoint{
				ep("default/httpbin-1", "198.19.1.2", map[string]uint16{"http": 8080}),
				ep("default/httpbin-0", "198.19.0.3", map[string]uint16{"http": 8080}),
			}},
		{Namespace: "kube-system", Name: "kube-dns", ClusterIP: netip.MustParseAddr("198.18.16.10"),
			Ports: []topology.ServicePort{
				{Name: "dns", Port: 53, Protocol: topology.ProtocolUDP, TargetPort: 5353},
				{Name: "dns-tcp", Port: 53, Protocol: topology.ProtocolTCP, TargetPort: 5353},
			},
			Endpoints: []topology.Endpoint{ep("kube-system/dns-0", "198.19.0.2", map[string]uint16{"dns": 5353, "dns-tcp": 5353})}},
		{Namespace: "default", Name: "mixed", ClusterIP: netip.MustParseAddr("198.18.16.22"),
			Ports: []topology.ServicePort{{Name: "grpc", Port: 9000, Protocol: topology.ProtocolTCP, TargetPortName: "grpc"}},
			Endpoints: []topology.Endpoint{
				ep("default/a", "198.19.0.4", map[string]uint16{"grpc": 9090}),
				ep("default/b", "198.19.0.5", map[string]uint16{}), // lacks the named port: not an endpoint
			}},
		{Namespace: "default", Name: "empty", ClusterIP: netip.MustParseAddr("198.18.16.23"),
			Ports: []topology.ServicePort{{Port: 80, Protocol: topology.ProtocolTCP}}},
		{Namespace: "default", Name: "headless", Headless: true,
			Ports:     []topology.ServicePort{{Port: 80, Protocol: topology.ProtocolTCP}},
			Endpoints: []topology.Endpoint{ep("default/a", "198.19.0.4", nil)}},
		{Namespace: "default", Name: "numeric", ClusterIP: netip.MustParseAddr("198.18.16.24"),
			Ports:     []topology.ServicePort{{Port: 81, Protocol: topology.ProtocolTCP}},
			Endpoints: []topology.Endpoint{ep("default/a", "198.19.0.4", nil)}},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		services []topology.Service
	}{
		{"fixture", fixtureServices()},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Render(tc.services)
			golden(t, filepath.Join("testdata", tc.name+".nft"), got)
		})
	}
}

func TestRenderIsOrderIndependent(t *testing.T) {
	svcs := fixtureServices()
	reversed := make([]topology.Service, len(svcs))
	for i, s := range svcs {
		reversed[len(svcs)-1-i] = s
	}
	if a, b := Render(svcs), Render(reversed); a != b {
		t.Errorf("rendering depends on input order:\n%s\nvs\n%s", a, b)
	}
}

func TestRenderShape(t *testing.T) {
	got := Render(fixtureServices())
	for _, want := range []string{
		"198.18.16.23 . tcp . 80 : goto reject-chain,",           // no endpoints → reject
		"numgen random mod 2 vmap { 0 : goto endpoint-",          // two httpbin endpoints
		"meta l4proto udp dnat to 198.19.0.2:5353",               // UDP DNS
		"numgen random mod 1 vmap { 0 : goto endpoint-",          // mixed: only endpoint a
		"meta l4proto tcp dnat to 198.19.0.4:81",                 // numeric port defaults to port
		"ip saddr 198.19.1.2 jump mark-for-masquerade",           // hairpin
		"type nat hook postrouting priority 100; policy accept;", // masquerade hook
		"type filter hook forward priority -110; policy accept;", // reject hook
		"198.18.16.10 . udp . 53 : goto service-",                // dispatch map
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendering lacks %q", want)
		}
	}
	for _, unwanted := range []string{"198.19.0.5", "headless"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("rendering contains %q:\n%s", unwanted, got)
		}
	}
}

func TestBuildRejectsInvalidServices(t *testing.T) {
	vip := netip.MustParseAddr("198.18.16.30")
	port := []topology.ServicePort{{Port: 80, Protocol: topology.ProtocolTCP}}
	for _, tc := range []struct {
		name     string
		services []topology.Service
		wantErr  string
	}{
		{"no ClusterIP", []topology.Service{{Namespace: "n", Name: "s", Ports: port}}, "not an IPv4 address"},
		{"IPv6 ClusterIP", []topology.Service{{Namespace: "n", Name: "s", ClusterIP: netip.MustParseAddr("fd00::1"), Ports: port}}, "not an IPv4 address"},
		{"duplicate VIP port", []topology.Service{
			{Namespace: "n", Name: "a", ClusterIP: vip, Ports: port},
			{Namespace: "n", Name: "b", ClusterIP: vip, Ports: port},
		}, "already used by n/a"},
		{"unknown protocol", []topology.Service{{Namespace: "n", Name: "s", ClusterIP: vip,
			Ports: []topology.ServicePort{{Port: 80, Protocol: "ICMP"}}}}, "unsupported protocol"},
		{"IPv6 endpoint", []topology.Service{{Namespace: "n", Name: "s", ClusterIP: vip, Ports: port,
			Endpoints: []topology.Endpoint{ep("n/p", "fd00::2", nil)}}}, "not an IPv4 address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(tc.services)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("build error = %v, want containing %q", err, tc.wantErr)
			}
			if err := Sync(-1, tc.services); err == nil {
				t.Fatal("Sync accepted invalid services")
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		nstest.Must(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
