package workloadapi

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

func TestFromWireLookups(t *testing.T) {
	backend := wireWorkload("uid-b", "demo", "httpbin-0", "198.19.0.2")
	backend.Services = map[string]*workloadapi.PortList{
		"demo/httpbin.demo.svc.cluster.local": {Ports: []*workloadapi.Port{{ServicePort: 8000, TargetPort: 8080}}},
	}
	backend.AuthorizationPolicies = []string{"demo/allow-client"}
	client := wireWorkload("uid-a", "demo", "client-0", "198.19.1.2")
	client.TunnelProtocol = workloadapi.TunnelProtocol_NONE
	svc := wireService("demo", "httpbin", "198.18.16.20", 8000, 8080)
	svc.Waypoint = &workloadapi.GatewayAddress{
		Destination: &workloadapi.GatewayAddress_Hostname{Hostname: &workloadapi.NamespacedHostname{
			Namespace: "demo", Hostname: "waypoint.demo.svc.cluster.local",
		}},
		HboneMtlsPort: 15008,
	}
	snap, err := FromWire(
		[]*workloadapi.Address{asService(svc), asWorkload(backend), asWorkload(client)},
		[]*security.Authorization{wireAllowFrom("demo", "allow-client", "cluster.local/ns/demo/sa/sa-client-0")},
	)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := snap.WorkloadByIP(netip.MustParseAddr("::ffff:198.19.0.2"))
	if !ok || w.UID != "uid-b" || w.Protocol != TunnelHBONE {
		t.Fatalf("WorkloadByIP = %+v, %v", w, ok)
	}
	wantID := identity.Identity{TrustDomain: "cluster.local", Namespace: "demo", ServiceAccount: "sa-httpbin-0"}
	if w.Identity() != wantID {
		t.Errorf("Identity = %v, want %v", w.Identity(), wantID)
	}
	key := ServiceKey{Namespace: "demo", Hostname: "httpbin.demo.svc.cluster.local"}
	if got := w.Services[key][8000]; got != 8080 {
		t.Errorf("services[%s][8000] = %d, want 8080", key, got)
	}
	if c, _ := snap.WorkloadByUID("uid-a"); c == nil || c.Protocol != TunnelTCP {
		t.Errorf("client = %+v, want TCP", c)
	}
	s, ok := snap.ServiceByVIP(netip.MustParseAddr("198.18.16.20"))
	if !ok || s.Key() != key || s.Waypoint == nil || s.Waypoint.String() != "demo/waypoint.demo.svc.cluster.local:15008" {
		t.Fatalf("ServiceByVIP = %+v, %v", s, ok)
	}
	if s2, _ := snap.ServiceByHostname(key.Hostname); s2 != s {
		t.Errorf("ServiceByHostname = %+v", s2)
	}
	if eps := snap.Endpoints(key); len(eps) != 1 || eps[0] != w {
		t.Errorf("Endpoints = %v", eps)
	}
	if _, ok := snap.Policies().Get("demo/allow-client"); !ok {
		t.Errorf("policy missing")
	}
	if got := snap.WorkloadsOnNode("node-0"); len(got) != 2 || got[0].UID != "uid-a" {
		t.Errorf("WorkloadsOnNode = %v", got)
	}
}

func TestDumpIsDeterministic(t *testing.T) {
	a := wireWorkload("uid-a", "demo", "a", "198.19.0.2")
	b := wireWorkload("uid-b", "demo", "b", "198.19.0.3")
	s1, err := FromWire([]*workloadapi.Address{asWorkload(a), asWorkload(b)}, []*security.Authorization{
		wireAllowFrom("demo", "p2", "x"), wireAllowFrom("demo", "p1", "y"),
	})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := FromWire([]*workloadapi.Address{asWorkload(b), asWorkload(a)}, []*security.Authorization{
		wireAllowFrom("demo", "p1", "y"), wireAllowFrom("demo", "p2", "x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := s1.Dump()
	d2, _ := s2.Dump()
	if !bytes.Equal(d1, d2) || s1.Version() != s2.Version() {
		t.Fatalf("dumps differ:\n%s\n---\n%s", d1, d2)
	}
	if !bytes.Contains(d1, []byte(`"Protocol": "HBONE"`)) || strings.Index(string(d1), `"p1"`) > strings.Index(string(d1), `"p2"`) {
		t.Errorf("dump not readable/sorted:\n%s", d1)
	}
	if Empty().Version() == s1.Version() {
		t.Errorf("empty and non-empty share a version")
	}
}
