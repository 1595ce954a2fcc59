package clusterdns

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/sim/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCluster() *topology.Cluster {
	ip := netip.MustParseAddr
	return &topology.Cluster{
		Name: "c1", ClusterDomain: "cluster.local", Plan: topology.DefaultAddressPlan(),
		Pods: []topology.Pod{
			{Namespace: "ns1", Name: "web-1", IP: ip("198.19.0.3"), Hostname: "web-1", Subdomain: "web"},
			{Namespace: "ns1", Name: "web-0", IP: ip("198.19.0.2"), Hostname: "web-0", Subdomain: "web"},
			{Namespace: "ns1", Name: "pending"}, // no IP yet: no records
		},
		Services: []topology.Service{
			{Namespace: "ns1", Name: "web", Headless: true,
				Ports: []topology.ServicePort{{Name: "http", Port: 80, Protocol: topology.ProtocolTCP, TargetPortName: "http"}},
				Endpoints: []topology.Endpoint{
					{Pod: "ns1/web-0", IP: ip("198.19.0.2"), TargetPorts: map[string]uint16{"http": 8080}},
					{Pod: "ns1/web-1", IP: ip("198.19.0.3"), TargetPorts: map[string]uint16{"http": 8080}},
				}},
			{Namespace: "ns1", Name: "api", ClusterIP: ip("198.18.16.20"),
				Ports: []topology.ServicePort{{Port: 80, Protocol: topology.ProtocolTCP, TargetPort: 80}}},
		},
	}
}

func TestBuildZone(t *testing.T) {
	z := BuildZone(testCluster())
	if z.Domain != "cluster.local" || z.DNSIP != netip.MustParseAddr("198.18.16.10") {
		t.Errorf("domain/dns = %q %v", z.Domain, z.DNSIP)
	}
	if len(z.Pods) != 2 || z.Pods[0].Name != "web-0" {
		t.Errorf("pods = %+v (want 2, sorted, without the pending pod)", z.Pods)
	}
	if z.Services[0].Name != "api" || z.Services[1].Endpoints[0].TargetPorts["http"] != 8080 {
		t.Errorf("services = %+v", z.Services)
	}
	// Through the file, as the supervisor and the dns workload use it.
	path := filepath.Join(t.TempDir(), "zone.json")
	if err := WriteZone(path, z); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadZone(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"api.ns1.svc.cluster.local.", dns.TypeA, []string{"198.18.16.20"}},
		{"web.ns1.svc.cluster.local.", dns.TypeA, []string{"198.19.0.2", "198.19.0.3"}},
		{"web-1.web.ns1.svc.cluster.local.", dns.TypeA, []string{"198.19.0.3"}},
		{"_http._tcp.web.ns1.svc.cluster.local.", dns.TypeSRV, []string{
			"0 50 8080 web-0.web.ns1.svc.cluster.local.", "0 50 8080 web-1.web.ns1.svc.cluster.local."}},
	}
	for _, tc := range tests {
		req := new(dns.Msg)
		req.SetQuestion(tc.name, tc.qtype)
		var got []string
		for _, rr := range Answer(loaded, req).Answer {
			got = append(got, strings.Join(strings.Fields(rr.String())[4:], " "))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	got := string(ResolvConf("ns1", netip.MustParseAddr("198.18.16.10"), "cluster.local"))
	want := "nameserver 198.18.16.10\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestHostsFile(t *testing.T) {
	const header = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	ip := netip.MustParseAddr("198.19.0.2")
	tests := []struct {
		name string
		pod  topology.Pod
		want string
	}{
		{"plain", topology.Pod{Namespace: "ns1", Name: "p", IP: ip, Hostname: "p"}, header + "198.19.0.2\tp\n"},
		{"hostname defaults to name", topology.Pod{Namespace: "ns1", Name: "p", IP: ip}, header + "198.19.0.2\tp\n"},
		{"subdomain", topology.Pod{Namespace: "ns1", Name: "web-0", IP: ip, Hostname: "web-0", Subdomain: "web"},
			header + "198.19.0.2\tweb-0.web.ns1.svc.cluster.local\tweb-0\n"},
		{"no IP", topology.Pod{Namespace: "ns1", Name: "p"}, header},
	}
	for _, tc := range tests {
		if got := string(HostsFile(tc.pod, "cluster.local")); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}
