package xds

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"istio.io/istio/pkg/workloadapi"

	state "github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func addr(uid, ip string) *workloadapi.Address {
	return &workloadapi.Address{Type: &workloadapi.Address_Workload{Workload: &workloadapi.Workload{
		Uid: uid, Name: uid, Namespace: "demo", Addresses: [][]byte{netip.MustParseAddr(ip).AsSlice()},
	}}}
}

func TestPushSourceSubscribe(t *testing.T) {
	p := NewPushSource()
	ctx, cancel := context.WithCancel(context.Background())
	ch := p.Subscribe(ctx)
	select {
	case <-p.Synced():
		t.Fatal("synced before the first push")
	default:
	}
	if _, err := p.Push([]*workloadapi.Address{addr("a", "198.19.0.2")}, nil); err != nil {
		t.Fatal(err)
	}
	s2, err := p.Push([]*workloadapi.Address{addr("a", "198.19.0.2"), addr("b", "198.19.0.3")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A slow reader sees only the newest snapshot.
	if got := <-ch; got != s2 {
		t.Fatalf("subscriber got %v, want the newest", got.Version())
	}
	<-p.Synced()
	// A rejected push keeps the current snapshot (the NACK analogue).
	if _, err := p.Push([]*workloadapi.Address{addr("", "198.19.0.4")}, nil); err == nil {
		t.Fatal("invalid push accepted")
	}
	if p.Current() != s2 {
		t.Fatal("current replaced by a rejected push")
	}
	// A late subscriber gets the current snapshot at once.
	late := p.Subscribe(ctx)
	if got := <-late; got != s2 {
		t.Fatal("late subscriber did not get the current snapshot")
	}
	cancel()
	for range ch { // closed after ctx is done
	}
	for range late {
	}
}

func TestFileSource(t *testing.T) {
	const good = `
workloads:
- name: local
  namespace: default
  serviceAccount: default
  workloadIps: ["127.0.0.1"]
  protocol: HBONE
  node: local
  authorizationPolicies: [default/allow-ns]
  services:
    default/echo.default.svc.cluster.local: {"80": 8080}
- name: local-tcp
  namespace: default
  workloadIps: ["127.0.0.2"]
  protocol: TCP
  node: local
services:
- name: echo
  namespace: default
  hostname: echo.default.svc.cluster.local
  vips: ["/10.96.0.10"]
  ports: {"80": 8080}
policies:
- name: allow-ns
  namespace: default
  scope: WorkloadSelector
  action: Allow
  rules: [[[{namespaces: [{Exact: default}], destinationPorts: [8080]}]]]
`
	path := filepath.Join(t.TempDir(), "local.yaml")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := NewFileSource(path)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Current()
	w, ok := s.WorkloadByIP(netip.MustParseAddr("127.0.0.1"))
	key := state.ServiceKey{Namespace: "default", Hostname: "echo.default.svc.cluster.local"}
	if !ok || w.Protocol != state.TunnelHBONE || w.Services[key][80] != 8080 || w.UID != "default/local" {
		t.Fatalf("workload = %+v", w)
	}
	if svc, ok := s.ServiceByVIP(netip.MustParseAddr("10.96.0.10")); !ok || svc.Ports[0].TargetPort != 8080 {
		t.Fatalf("service = %+v", svc)
	}
	if p, ok := s.Policies().Get("default/allow-ns"); !ok || len(p.Rules) != 1 {
		t.Fatalf("policy = %+v", p)
	}
	if len(s.Endpoints(key)) != 1 {
		t.Errorf("endpoints = %v", s.Endpoints(key))
	}

	for name, bad := range map[string]string{
		"unknown field":  "workloads: [{name: a, namespace: b, workloadIp: 1.2.3.4}]",
		"unknown proto":  "workloads: [{name: a, namespace: b, protocol: QUIC}]",
		"unknown scope":  "policies: [{name: a, namespace: b, scope: Mesh, action: Allow}]",
		"unknown match":  "policies: [{name: a, namespace: b, scope: Global, action: Deny, rules: [[[{principals: [{Regex: x}]}]]]}]",
		"bad service":    "services: [{name: a, namespace: b, hostname: c, ports: {http: 80}}]",
		"top-level typo": "workload: []",
	} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := f.Reload(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
		if f.Current() != s {
			t.Errorf("%s: snapshot replaced by a rejected file", name)
		}
	}
}
