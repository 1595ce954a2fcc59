package transport

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// Endpoint is one pod that can take a request: its workload and the address
// the application listens on (pod IP:target port).
type Endpoint struct {
	Workload *workloadapi.Workload
	Addr     netip.AddrPort
}

// Target is a resolved destination: the Service and port when the address
// was a VIP (nil Service for a pod address) and its healthy endpoints.
type Target struct {
	Service   *workloadapi.Service
	Port      workloadapi.Port
	Endpoints []Endpoint
}

// L7 reports whether the destination port is served as HTTP.
func (t Target) L7() bool { return IsL7(t.Port.AppProtocol) }

// HTTP2 reports whether the upstream speaks HTTP/2 (h2c prior knowledge).
func (t Target) HTTP2() bool {
	return t.Port.AppProtocol == workloadapi.AppProtocolHTTP2 || t.Port.AppProtocol == workloadapi.AppProtocolGRPC
}

// IsL7 is the waypoint's protocol rule: HTTP/1.1, HTTP2 and GRPC ports are
// HTTP; everything else (TCP, TLS, undeclared) is relayed at L4.
func IsL7(p workloadapi.AppProtocol) bool {
	switch p {
	case workloadapi.AppProtocolHTTP11, workloadapi.AppProtocolHTTP2, workloadapi.AppProtocolGRPC:
		return true
	}
	return false
}

// Resolution errors; the waypoint answers both with 503.
var (
	ErrUnknownDestination = errors.New("waypoint: destination is neither a Service VIP nor a workload")
	// ErrNoHealthyUpstream is the forwarder's own sentinel, so a request
	// without endpoints gets Envoy's "no healthy upstream" (UH).
	ErrNoHealthyUpstream = waypoint.ErrNoHealthyUpstream
)

// Resolve maps dst to its endpoints the way ztunnel's outbound planner does
// (dataplane/ztunnel/route.go planService): a Service VIP selects the port
// and every healthy endpoint with an address, each with its own target port
// (the workload's services map beats the Service's default, which beats the
// service port); a pod IP is that workload on dst's port. A workload
// destination that is not healthy has no endpoint.
func Resolve(st *workloadapi.Snapshot, dst netip.AddrPort) (Target, error) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if svc, ok := st.ServiceByVIP(dst.Addr()); ok {
		var port workloadapi.Port
		found := false
		for _, p := range svc.Ports {
			if p.ServicePort == dst.Port() {
				port, found = p, true
				break
			}
		}
		if !found {
			return Target{Service: svc}, fmt.Errorf("%w: service %s has no port %d", ErrNoHealthyUpstream, svc.Key(), dst.Port())
		}
		t := Target{Service: svc, Port: port}
		for _, w := range st.Endpoints(svc.Key()) {
			if w.Status != workloadapi.StatusHealthy || len(w.IPs) == 0 {
				continue
			}
			target := port.TargetPort
			if m, ok := w.Services[svc.Key()]; ok && m[port.ServicePort] != 0 {
				target = m[port.ServicePort]
			}
			if target == 0 {
				target = port.ServicePort
			}
			t.Endpoints = append(t.Endpoints, Endpoint{Workload: w, Addr: netip.AddrPortFrom(w.IPs[0], target)})
		}
		if len(t.Endpoints) == 0 {
			return t, fmt.Errorf("%w: service %s has no healthy endpoints", ErrNoHealthyUpstream, svc.Key())
		}
		return t, nil
	}
	if w, ok := st.WorkloadByIP(dst.Addr()); ok {
		t := Target{Port: workloadPort(st, w, dst.Port())}
		if w.Status != workloadapi.StatusHealthy {
			return t, fmt.Errorf("%w: workload %s is not healthy", ErrNoHealthyUpstream, w.Key())
		}
		t.Endpoints = []Endpoint{{Workload: w, Addr: dst}}
		return t, nil
	}
	return Target{}, fmt.Errorf("%w: %s", ErrUnknownDestination, dst)
}

// workloadPort finds the protocol of a pod port through the Services the pod
// backs: the first (in Service key order) whose port targets it. A port no
// Service declares is undeclared (served as TCP).
func workloadPort(st *workloadapi.Snapshot, w *workloadapi.Workload, port uint16) workloadapi.Port {
	best := workloadapi.Port{ServicePort: port, TargetPort: port}
	var bestKey string
	for key, ports := range w.Services {
		svc, ok := st.Service(key)
		if !ok {
			continue
		}
		for _, p := range svc.Ports {
			target := ports[p.ServicePort]
			if target == 0 {
				target = p.TargetPort
			}
			if target == 0 {
				target = p.ServicePort
			}
			if target == port && p.AppProtocol != workloadapi.AppProtocolUnknown && (bestKey == "" || key.String() < bestKey) {
				best, bestKey = workloadapi.Port{ServicePort: port, TargetPort: port, AppProtocol: p.AppProtocol}, key.String()
			}
		}
	}
	return best
}
