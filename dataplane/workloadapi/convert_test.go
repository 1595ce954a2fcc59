package workloadapi

import (
	"strings"
	"testing"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

func TestFromWireRejects(t *testing.T) {
	mod := func(f func(w *workloadapi.Workload)) *workloadapi.Address {
		w := wireWorkload("uid-x", "demo", "x", "198.19.0.2")
		f(w)
		return asWorkload(w)
	}
	tests := []struct {
		name      string
		addresses []*workloadapi.Address
		auths     []*security.Authorization
		wantErr   string
	}{
		{"empty uid", []*workloadapi.Address{mod(func(w *workloadapi.Workload) { w.Uid = "" })}, nil, "uid is empty"},
		{"bad address", []*workloadapi.Address{mod(func(w *workloadapi.Workload) { w.Addresses = [][]byte{{1, 2, 3}} })}, nil, `"uid-x"`},
		{"no address", []*workloadapi.Address{mod(func(w *workloadapi.Workload) { w.Addresses = nil })}, nil, "neither addresses nor hostname"},
		{"unknown tunnel", []*workloadapi.Address{mod(func(w *workloadapi.Workload) { w.TunnelProtocol = 7 })}, nil, "tunnel protocol"},
		{"bad service key", []*workloadapi.Address{mod(func(w *workloadapi.Workload) {
			w.Services = map[string]*workloadapi.PortList{"no-slash": {}}
		})}, nil, "no-slash"},
		{"port out of range", []*workloadapi.Address{mod(func(w *workloadapi.Workload) {
			w.Services = map[string]*workloadapi.PortList{"demo/s": {Ports: []*workloadapi.Port{{ServicePort: 70000}}}}
		})}, nil, "out of range"},
		{"waypoint without destination", []*workloadapi.Address{mod(func(w *workloadapi.Workload) {
			w.Waypoint = &workloadapi.GatewayAddress{HboneMtlsPort: 15008}
		})}, nil, "waypoint"},
		{"duplicate IP", []*workloadapi.Address{
			asWorkload(wireWorkload("a", "demo", "a", "198.19.0.2")), asWorkload(wireWorkload("b", "demo", "b", "198.19.0.2")),
		}, nil, "share address"},
		{"duplicate VIP", []*workloadapi.Address{
			asService(wireService("demo", "a", "198.18.16.20", 80, 80)), asService(wireService("demo", "b", "198.18.16.20", 80, 80)),
		}, nil, "share VIP"},
		{"service without hostname", []*workloadapi.Address{asService(&workloadapi.Service{Name: "a", Namespace: "demo"})}, nil, "required"},
		{"empty address", []*workloadapi.Address{{}}, nil, "neither workload nor service"},
		{"policy with unknown action", nil, []*security.Authorization{{Name: "p", Namespace: "demo",
			Scope: security.Scope_NAMESPACE, Action: 9}}, "demo/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromWire(tt.addresses, tt.auths)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnumsParse(t *testing.T) {
	for _, p := range []TunnelProtocol{TunnelTCP, TunnelHBONE} {
		if got, err := ParseTunnelProtocol(p.String()); err != nil || got != p {
			t.Errorf("ParseTunnelProtocol(%s) = %v, %v", p, got, err)
		}
	}
	for _, s := range []WorkloadStatus{StatusHealthy, StatusUnhealthy} {
		if got, err := ParseWorkloadStatus(s.String()); err != nil || got != s {
			t.Errorf("ParseWorkloadStatus(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseTunnelProtocol("QUIC"); err == nil {
		t.Error("ParseTunnelProtocol accepted QUIC")
	}
}
