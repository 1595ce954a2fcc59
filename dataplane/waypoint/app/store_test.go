package app

import (
	"net/netip"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// Which destinations a waypoint serves, and with which target: a bound
// Service's VIP always; a pod only when the waypoint is for workloads and
// the pod names this waypoint (by Service hostname, Service VIP or pod IP).
func TestStoreTargets(t *testing.T) {
	wpSvc := &workloadapi.Service{Name: "waypoint", Namespace: "demo", Hostname: "waypoint.demo.svc.cluster.local",
		VIPs: []netip.Addr{netip.MustParseAddr("198.19.0.5")}}
	otherSvc := &workloadapi.Service{Name: "other-wp", Namespace: "demo", Hostname: "other-wp.demo.svc.cluster.local",
		VIPs: []netip.Addr{netip.MustParseAddr("198.19.0.6")}}
	wpPod := &workloadapi.Workload{UID: "wp", Name: "waypoint-0", Namespace: "demo", ServiceAccount: "waypoint",
		IPs: []netip.Addr{netip.MustParseAddr("198.18.0.5")}, Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy}
	pod := func(uid, ip string, ga *workloadapi.GatewayAddress) *workloadapi.Workload {
		return &workloadapi.Workload{UID: uid, Name: uid, Namespace: "demo", ServiceAccount: "app", IPs: []netip.Addr{netip.MustParseAddr(ip)},
			Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy, Waypoint: ga}
	}
	byHost := &workloadapi.GatewayAddress{Hostname: &workloadapi.ServiceKey{Namespace: "demo", Hostname: "waypoint.demo.svc.cluster.local"}, HBONEPort: 15008}
	byVIP := &workloadapi.GatewayAddress{Address: netip.MustParseAddr("198.19.0.5"), HBONEPort: 15008}
	byPodIP := &workloadapi.GatewayAddress{Address: netip.MustParseAddr("198.18.0.5"), HBONEPort: 15008}
	other := &workloadapi.GatewayAddress{Address: netip.MustParseAddr("198.19.0.6"), HBONEPort: 15008}
	st, err := workloadapi.New([]*workloadapi.Workload{wpPod,
		pod("a", "198.18.1.1", byHost), pod("b", "198.18.1.2", byVIP), pod("c", "198.18.1.3", byPodIP),
		pod("d", "198.18.1.4", other), pod("e", "198.18.1.5", nil)}, []*workloadapi.Service{wpSvc, otherSvc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svcPolicy := &policy.Policy{Name: "svc", Namespace: "demo", Scope: policy.ScopeNamespace, Action: policy.ActionAllow}
	gwPolicy := &policy.Policy{Name: "gw", Namespace: "demo", Scope: policy.ScopeNamespace, Action: policy.ActionAllow}
	for _, tc := range []struct {
		dst  string
		for_ string
		want string // "svc", "gw" or "" (not served)
	}{
		{"198.19.0.10", "service", "svc"}, {"198.19.0.10", "workload", "svc"}, {"198.19.0.10", "all", "svc"},
		{"198.18.1.1", "service", ""}, {"198.18.1.1", "workload", "gw"}, {"198.18.1.1", "all", "gw"},
		{"198.18.1.2", "all", "gw"}, {"198.18.1.3", "all", "gw"},
		{"198.18.1.4", "all", ""}, // another waypoint's pod
		{"198.18.1.5", "all", ""}, // a pod without a waypoint
		{"198.19.0.99", "all", ""},
		{"::ffff:198.19.0.10", "service", "svc"},
	} {
		s := NewStore(config.GatewayRef{Namespace: "demo", Name: "waypoint"}, func() *workloadapi.Snapshot { return st }, nil, nil)
		if s.Serves(netip.MustParseAddrPort("198.19.0.10:80")) {
			t.Fatal("served before any config")
		}
		err := s.Apply(&config.Snapshot{Version: config.Version, Gateway: config.GatewayRef{Namespace: "demo", Name: "waypoint"}, For: tc.for_,
			Workload: config.Target{Policies: []*policy.Policy{gwPolicy}},
			Services: []config.Service{{Namespace: "demo", Name: "api", Hostname: "api.demo.svc.cluster.local",
				Addresses: []netip.Addr{netip.MustParseAddr("198.19.0.10")}, Target: config.Target{Policies: []*policy.Policy{svcPolicy}}}}})
		if err != nil {
			t.Fatal(err)
		}
		dst := netip.AddrPortFrom(netip.MustParseAddr(tc.dst), 80)
		got := ""
		if s.Serves(dst) {
			switch ps := s.L4Policies(dst); {
			case len(ps) == 1 && ps[0] == svcPolicy:
				got = "svc"
			case len(ps) == 1 && ps[0] == gwPolicy:
				got = "gw"
			default:
				got = "?"
			}
		} else if ps := s.L4Policies(dst); len(ps) != 1 || ps[0] != nil {
			t.Errorf("%s for=%s: an unserved destination must get the deny-all policy list, got %v", tc.dst, tc.for_, ps)
		}
		if got != tc.want {
			t.Errorf("%s for=%s: target %q, want %q", tc.dst, tc.for_, got, tc.want)
		}
	}
}
