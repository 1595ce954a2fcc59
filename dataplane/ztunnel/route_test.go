package ztunnel

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

type wlOpt func(*workloadapi.Workload)

func onNode(n string) wlOpt             { return func(w *workloadapi.Workload) { w.Node = n } }
func tcpOnly(w *workloadapi.Workload)   { w.Protocol = workloadapi.TunnelTCP }
func unhealthy(w *workloadapi.Workload) { w.Status = workloadapi.StatusUnhealthy }
func onNetwork(n string) wlOpt          { return func(w *workloadapi.Workload) { w.Network = n } }
func backs(svc string, ports map[uint16]uint16) wlOpt {
	return func(w *workloadapi.Workload) {
		if w.Services == nil {
			w.Services = map[workloadapi.ServiceKey]map[uint16]uint16{}
		}
		w.Services[svcKey(svc)] = ports
	}
}
func withWaypoint(ga *workloadapi.GatewayAddress) wlOpt {
	return func(w *workloadapi.Workload) { w.Waypoint = ga }
}

func svcKey(name string) workloadapi.ServiceKey {
	return workloadapi.ServiceKey{Namespace: "default", Hostname: name + ".default.svc.cluster.local"}
}

func workload(name, ip string, opts ...wlOpt) *workloadapi.Workload {
	w := &workloadapi.Workload{
		UID: "uid-" + name, Name: name, Namespace: "default", ServiceAccount: "sa-" + name,
		Node: "node-b", Network: "net1", TrustDomain: "cluster.local", IPs: []netip.Addr{netip.MustParseAddr(ip)},
		Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy,
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

func service(name, vip string, port, target uint16) *workloadapi.Service {
	return &workloadapi.Service{
		Name: name, Namespace: "default", Hostname: name + ".default.svc.cluster.local",
		VIPs: []netip.Addr{netip.MustParseAddr(vip)}, Ports: []workloadapi.Port{{ServicePort: port, TargetPort: target}},
	}
}

// routeFixture is a small mesh:
//
//	client 10.0.1.1 (node-a)      echo  VIP 10.96.0.1:80 → srv-1 10.0.2.1 (node-b, 8080), srv-2 10.0.2.2 (node-a, 9090), srv-3 unhealthy
//	legacy VIP 10.96.0.3:80 → tcp-pod 10.0.3.1 (no HBONE)    empty VIP 10.96.0.2 (no endpoints)
//	waypoint wp 10.0.4.1 backs waypoint svc; reviews VIP 10.96.0.4 uses it; pod wl-wp 10.0.5.1 uses it by address
//	far 10.0.6.1 on network net2; ghost VIP 10.96.0.5 names a waypoint service without pods
func routeFixture(t *testing.T) *workloadapi.Snapshot {
	t.Helper()
	wpSvc := service("waypoint", "10.96.0.9", 15008, 15008)
	wpKey := wpSvc.Key()
	reviews := service("reviews", "10.96.0.4", 9080, 9080)
	reviews.Waypoint = &workloadapi.GatewayAddress{Hostname: &wpKey, HBONEPort: 15008}
	ghostKey := svcKey("nowhere")
	ghost := service("ghost", "10.96.0.5", 80, 80)
	ghost.Waypoint = &workloadapi.GatewayAddress{Hostname: &ghostKey, HBONEPort: 15008}
	s, err := workloadapi.New([]*workloadapi.Workload{
		workload("client", "10.0.1.1", onNode("node-a")),
		workload("srv-1", "10.0.2.1", backs("echo", map[uint16]uint16{80: 8080})),
		workload("srv-2", "10.0.2.2", onNode("node-a"), backs("echo", map[uint16]uint16{80: 9090})),
		workload("srv-3", "10.0.2.3", unhealthy, backs("echo", map[uint16]uint16{80: 8080})),
		workload("tcp-pod", "10.0.3.1", tcpOnly, backs("legacy", nil)),
		workload("wp", "10.0.4.1", backs("waypoint", map[uint16]uint16{15008: 15008})),
		workload("wl-wp", "10.0.5.1", withWaypoint(&workloadapi.GatewayAddress{Address: netip.MustParseAddr("10.0.4.1"), HBONEPort: 15008})),
		workload("reviews-1", "10.0.7.1", backs("reviews", nil)),
		workload("far", "10.0.6.1", onNetwork("net2")),
		workload("badport", "10.0.8.1", backs("sneaky", map[uint16]uint16{80: 15006})),
	}, []*workloadapi.Service{
		service("echo", "10.96.0.1", 80, 8080),
		service("empty", "10.96.0.2", 80, 8080),
		service("legacy", "10.96.0.3", 80, 8080),
		reviews, wpSvc, ghost,
		service("sneaky", "10.96.0.6", 80, 80),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlan(t *testing.T) {
	st := routeFixture(t)
	wl := func(ip string) *workloadapi.Workload {
		w, ok := st.WorkloadByIP(netip.MustParseAddr(ip))
		if !ok {
			t.Fatalf("fixture has no %s", ip)
		}
		return w
	}
	client, wp := wl("10.0.1.1"), wl("10.0.4.1")
	id := func(name string) identity.Identity {
		return identity.Identity{TrustDomain: "cluster.local", Namespace: "default", ServiceAccount: "sa-" + name}
	}
	ap := netip.MustParseAddrPort
	first := func(int) int { return 0 }
	second := func(int) int { return 1 }

	type want struct {
		kind      RequestKind
		target    string
		authority string
		identity  identity.Identity
		dest      string // destination workload name
		waypoint  string
		service   string
		sameNode  bool
		deny      DenyReason
	}
	tests := []struct {
		name string
		src  *workloadapi.Workload
		dst  string
		pick Picker
		want want
	}{
		{"service VIP to first healthy endpoint, per-workload target port", client, "10.96.0.1:80", first,
			want{kind: RequestHBONE, target: "10.0.2.1:15008", authority: "10.0.2.1:8080", identity: id("srv-1"), dest: "srv-1", service: "echo"}},
		{"service VIP to same-node endpoint takes fast path", client, "10.96.0.1:80", second,
			want{kind: RequestHBONE, target: "10.0.2.2:15008", authority: "10.0.2.2:9090", identity: id("srv-2"), dest: "srv-2", service: "echo", sameNode: true}},
		{"unhealthy endpoints are never picked", client, "10.96.0.1:80", func(n int) int { return n - 1 },
			want{kind: RequestHBONE, target: "10.0.2.2:15008", authority: "10.0.2.2:9090", identity: id("srv-2"), dest: "srv-2", service: "echo", sameNode: true}},
		{"out-of-range picker is clamped", client, "10.96.0.1:80", func(int) int { return 7 },
			want{kind: RequestHBONE, target: "10.0.2.1:15008", authority: "10.0.2.1:8080", identity: id("srv-1"), dest: "srv-1", service: "echo"}},
		{"service without endpoints is NoHealthyUpstream", client, "10.96.0.2:80", first,
			want{kind: RequestDeny, service: "empty", deny: DenyNoHealthyUpstream}},
		{"service port the service lacks is NoHealthyUpstream", client, "10.96.0.1:81", first,
			want{kind: RequestDeny, service: "echo", deny: DenyNoHealthyUpstream}},
		{"service endpoint without HBONE gets plain TCP, service target port", client, "10.96.0.3:80", first,
			want{kind: RequestTCP, target: "10.0.3.1:8080", dest: "tcp-pod", service: "legacy"}},
		{"pod IP direct over HBONE", client, "10.0.2.1:8080", first,
			want{kind: RequestHBONE, target: "10.0.2.1:15008", authority: "10.0.2.1:8080", identity: id("srv-1"), dest: "srv-1"}},
		{"pod IP on the same node", client, "10.0.2.2:9090", first,
			want{kind: RequestHBONE, target: "10.0.2.2:15008", authority: "10.0.2.2:9090", identity: id("srv-2"), dest: "srv-2", sameNode: true}},
		{"pod IP of a TCP workload", client, "10.0.3.1:5432", first,
			want{kind: RequestTCP, target: "10.0.3.1:5432", dest: "tcp-pod"}},
		{"unknown IP is passthrough", client, "203.0.113.7:443", first,
			want{kind: RequestPassthrough, target: "203.0.113.7:443"}},
		{"illegal target 15008 on a pod", client, "10.0.2.1:15008", first, want{kind: RequestDeny, deny: DenyIllegalPort}},
		{"illegal target 15001 off mesh", client, "203.0.113.7:15001", first, want{kind: RequestDeny, deny: DenyIllegalPort}},
		{"illegal target 15006 on a VIP", client, "10.96.0.1:15006", first, want{kind: RequestDeny, deny: DenyIllegalPort}},
		{"service mapping onto a ztunnel port is illegal", client, "10.96.0.6:80", first, want{kind: RequestDeny, service: "sneaky", deny: DenyIllegalPort}},
		{"service with waypoint: HBONE to waypoint, authority is the VIP", client, "10.96.0.4:9080", first,
			want{kind: RequestHBONE, target: "10.0.4.1:15008", authority: "10.96.0.4:9080", identity: id("wp"), waypoint: "wp", service: "reviews"}},
		{"waypoint itself calling the service goes to endpoints", wp, "10.96.0.4:9080", first,
			want{kind: RequestHBONE, target: "10.0.7.1:15008", authority: "10.0.7.1:9080", identity: id("reviews-1"), dest: "reviews-1", service: "reviews", sameNode: true}},
		{"pod with workload waypoint: HBONE to waypoint", client, "10.0.5.1:80", first,
			want{kind: RequestHBONE, target: "10.0.4.1:15008", authority: "10.0.5.1:80", identity: id("wp"), dest: "wl-wp", waypoint: "wp"}},
		{"waypoint calling its workload goes direct (never twice)", wp, "10.0.5.1:80", first,
			want{kind: RequestHBONE, target: "10.0.5.1:15008", authority: "10.0.5.1:80", identity: id("wl-wp"), dest: "wl-wp", sameNode: true}},
		{"pod IP of a service-waypointed workload goes direct (service waypoints see only VIP traffic)", client, "10.0.7.1:9080", first,
			want{kind: RequestHBONE, target: "10.0.7.1:15008", authority: "10.0.7.1:9080", identity: id("reviews-1"), dest: "reviews-1"}},
		{"waypoint service without pods is UnknownWaypoint", client, "10.96.0.5:80", first,
			want{kind: RequestDeny, service: "ghost", deny: DenyUnknownWaypoint}},
		{"destination on another network is refused, not sent in plaintext", client, "10.0.6.1:80", first,
			want{kind: RequestDeny, deny: DenyRemoteNetwork}},
		{"no source workload", nil, "10.0.2.1:8080", first, want{kind: RequestDeny, deny: DenyUnknownSource}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Plan(st, tt.src, ap(tt.dst), tt.pick, PortHBONE)
			w := tt.want
			if (err != nil) != (w.kind == RequestDeny) {
				t.Fatalf("err = %v for kind %v", err, req.Kind)
			}
			var pe *PlanError
			if err != nil && (!errors.As(err, &pe) || pe.Reason != w.deny || !errors.Is(err, ErrPlan)) {
				t.Fatalf("err = %v, want reason %v", err, w.deny)
			}
			if req.Kind != w.kind || req.Deny != w.deny || req.SameNode != w.sameNode {
				t.Fatalf("kind/deny/sameNode = %v/%v/%v, want %v/%v/%v", req.Kind, req.Deny, req.SameNode, w.kind, w.deny, w.sameNode)
			}
			if got := addrString(req.Target); got != w.target {
				t.Errorf("target = %q, want %q", got, w.target)
			}
			if got := addrString(req.Authority); got != w.authority {
				t.Errorf("authority = %q, want %q", got, w.authority)
			}
			if req.DestinationIdentity != w.identity {
				t.Errorf("identity = %v, want %v", req.DestinationIdentity, w.identity)
			}
			if got := nameOf(req.Destination); got != w.dest {
				t.Errorf("destination = %q, want %q", got, w.dest)
			}
			if got := nameOf(req.Waypoint); got != w.waypoint {
				t.Errorf("waypoint = %q, want %q", got, w.waypoint)
			}
			gotSvc := ""
			if req.Service != nil {
				gotSvc = req.Service.Name
			}
			if gotSvc != w.service {
				t.Errorf("service = %q, want %q", gotSvc, w.service)
			}
			if req.OriginalDst != ap(tt.dst) {
				t.Errorf("original dst = %v", req.OriginalDst)
			}
		})
	}
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func nameOf(w *workloadapi.Workload) string {
	if w == nil {
		return ""
	}
	return w.Name
}

// TestPlanPickerCalledOncePerServiceRequest keeps endpoint selection exact.
func TestPlanPickerCalledOncePerServiceRequest(t *testing.T) {
	st := routeFixture(t)
	client, _ := st.WorkloadByIP(netip.MustParseAddr("10.0.1.1"))
	var calls, lastN int
	_, err := Plan(st, client, netip.MustParseAddrPort("10.96.0.1:80"), func(n int) int { calls++; lastN = n; return 0 }, PortHBONE)
	if err != nil || calls != 1 || lastN != 2 {
		t.Fatalf("err=%v calls=%d n=%d, want one call over the 2 healthy endpoints", err, calls, lastN)
	}
}
