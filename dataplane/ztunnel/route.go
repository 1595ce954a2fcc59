package ztunnel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// Well-known in-pod ports (ambient-semantics.md §1).
const (
	PortOutbound    uint16 = 15001
	PortPassthrough uint16 = 15006
	PortHBONE       uint16 = 15008
)

// IsIllegalPort reports whether port is one of the proxy's own capture
// ports, which are never valid destinations on any path: a connection to
// them would loop through ztunnel or nest HBONE (ztunnel src/config.rs
// illegal_ports; inbound.rs, inbound_passthrough.rs, outbound.rs).
func IsIllegalPort(port uint16) bool {
	return port == PortOutbound || port == PortPassthrough || port == PortHBONE
}

// State is what the planner reads; *workloadapi.Snapshot implements it.
type State interface {
	WorkloadByIP(ip netip.Addr) (*workloadapi.Workload, bool)
	ServiceByVIP(ip netip.Addr) (*workloadapi.Service, bool)
	Service(k workloadapi.ServiceKey) (*workloadapi.Service, bool)
	Endpoints(k workloadapi.ServiceKey) []*workloadapi.Workload
}

var _ State = (*workloadapi.Snapshot)(nil)

// Picker chooses one of n (> 0) healthy endpoints. Plan calls it exactly
// once per service-addressed request, with endpoints sorted by UID, so
// tests can inject a fixed choice.
type Picker func(n int) int

// RandomPicker picks uniformly, as ztunnel does among healthy endpoints.
func RandomPicker(n int) int { return rand.IntN(n) }

// Plan decides where an outbound connection from src to origDst goes
// (ambient-semantics.md §4; ztunnel src/proxy/outbound.rs build_request).
// It is pure: no sockets, no clocks; pick is the only choice it delegates.
// A request it refuses has Kind RequestDeny and a *PlanError naming why.
//
// hbonePort is the port inbound HBONE listens on (PortHBONE except in
// tests that cannot bind it); it becomes the target port of direct HBONE.
func Plan(st State, src *workloadapi.Workload, origDst netip.AddrPort, pick Picker, hbonePort uint16) (Request, error) {
	req := Request{OriginalDst: origDst}
	deny := func(r DenyReason, format string, a ...any) (Request, error) {
		req.Kind, req.Deny = RequestDeny, r
		return req, &PlanError{Reason: r, Detail: fmt.Sprintf(format, a...)}
	}
	if src == nil {
		return deny(DenyUnknownSource, "no source workload")
	}
	if IsIllegalPort(origDst.Port()) {
		return deny(DenyIllegalPort, "destination port %d is a ztunnel port", origDst.Port())
	}
	dstIP := origDst.Addr().Unmap()

	if svc, ok := st.ServiceByVIP(dstIP); ok {
		req.Service = svc
		return planService(st, req, src, svc, origDst, pick, hbonePort, deny)
	}
	w, ok := st.WorkloadByIP(dstIP)
	if !ok {
		// Not in the mesh: plain TCP to where the app was going. Mesh
		// destinations never reach this branch (never plaintext to mesh).
		req.Kind, req.Target = RequestPassthrough, origDst
		return req, nil
	}
	// Pod-addressed: a workload waypoint takes it, unless the source is that
	// waypoint (ztunnel src/proxy.rs check_from_waypoint: never twice).
	if w.Waypoint != nil {
		wp, ok := resolveWaypoint(st, w.Waypoint, pick)
		if !ok {
			return deny(DenyUnknownWaypoint, "waypoint %s of %s not found", w.Waypoint, w.Key())
		}
		if !isWaypoint(st, src, w.Waypoint) {
			return viaWaypoint(req, w, wp, w.Waypoint, netip.AddrPortFrom(dstIP, origDst.Port())), nil
		}
	}
	return direct(req, src, w, dstIP, origDst.Port(), hbonePort, deny)
}

type denyFunc func(r DenyReason, format string, a ...any) (Request, error)

// planService handles Service-VIP destinations: the service waypoint, else
// one healthy endpoint with its target port.
func planService(st State, req Request, src *workloadapi.Workload, svc *workloadapi.Service,
	origDst netip.AddrPort, pick Picker, hbonePort uint16, deny denyFunc) (Request, error) {
	port, ok := servicePort(svc, origDst.Port())
	if !ok {
		return deny(DenyNoHealthyUpstream, "service %s has no port %d", svc.Key(), origDst.Port())
	}
	req.ServicePort = port.ServicePort
	if svc.Waypoint != nil && !isWaypoint(st, src, svc.Waypoint) {
		wp, ok := resolveWaypoint(st, svc.Waypoint, pick)
		if !ok {
			return deny(DenyUnknownWaypoint, "waypoint %s of service %s not found", svc.Waypoint, svc.Key())
		}
		// Toward a waypoint the authority is the original VIP:port, so the
		// waypoint can apply the Service's L7 config (ambient-semantics §3).
		return viaWaypoint(req, nil, wp, svc.Waypoint, origDst), nil
	}
	type candidate struct {
		w    *workloadapi.Workload
		port uint16
	}
	var cands []candidate
	for _, w := range st.Endpoints(svc.Key()) {
		if w.Status != workloadapi.StatusHealthy || len(w.IPs) == 0 {
			continue
		}
		target := port.TargetPort
		if m, ok := w.Services[svc.Key()]; ok {
			if t, ok := m[port.ServicePort]; ok && t != 0 {
				target = t
			}
		}
		if target == 0 {
			target = port.ServicePort
		}
		cands = append(cands, candidate{w, target})
	}
	if len(cands) == 0 {
		return deny(DenyNoHealthyUpstream, "service %s has no healthy endpoints", svc.Key())
	}
	c := cands[pickIndex(pick, len(cands))]
	return direct(req, src, c.w, c.w.IPs[0], c.port, hbonePort, deny)
}

// direct is step 6: HBONE to podIP:hbonePort if the workload speaks HBONE,
// else TCP straight to podIP:port; same-node destinations are marked for
// the fast path (step 7).
func direct(req Request, src, w *workloadapi.Workload, ip netip.Addr, port, hbonePort uint16, deny denyFunc) (Request, error) {
	if IsIllegalPort(port) {
		return deny(DenyIllegalPort, "target port %d of %s is a ztunnel port", port, w.Key())
	}
	if w.Network != "" && src.Network != "" && w.Network != src.Network {
		// Step 4 (double HBONE through the E/W gateway) is not implemented.
		return deny(DenyRemoteNetwork, "%s is on network %q, source on %q", w.Key(), w.Network, src.Network)
	}
	req.Destination = w
	dst := netip.AddrPortFrom(ip, port)
	if w.Protocol != workloadapi.TunnelHBONE {
		req.Kind, req.Target = RequestTCP, dst
		return req, nil
	}
	req.Kind = RequestHBONE
	req.Target = netip.AddrPortFrom(ip, hbonePort)
	req.Authority = dst
	req.DestinationIdentity = w.Identity()
	req.SameNode = w.Node != "" && w.Node == src.Node
	return req, nil
}

// viaWaypoint sends the connection to the waypoint's HBONE port.
func viaWaypoint(req Request, dst, wp *workloadapi.Workload, ga *workloadapi.GatewayAddress, authority netip.AddrPort) Request {
	port := ga.HBONEPort
	if port == 0 {
		port = PortHBONE
	}
	req.Kind = RequestHBONE
	req.Destination = dst
	req.Waypoint = wp
	req.Target = netip.AddrPortFrom(wp.IPs[0], port)
	req.Authority = authority
	req.DestinationIdentity = wp.Identity()
	return req
}

// resolveWaypoint finds the workload behind a gateway address: the pod with
// that IP, or one healthy endpoint of the waypoint Service.
func resolveWaypoint(st State, ga *workloadapi.GatewayAddress, pick Picker) (*workloadapi.Workload, bool) {
	if ga.Hostname == nil {
		w, ok := st.WorkloadByIP(ga.Address)
		return w, ok && len(w.IPs) > 0
	}
	var healthy []*workloadapi.Workload
	for _, w := range st.Endpoints(*ga.Hostname) {
		if w.Status == workloadapi.StatusHealthy && len(w.IPs) > 0 {
			healthy = append(healthy, w)
		}
	}
	if len(healthy) == 0 {
		return nil, false
	}
	return healthy[pickIndex(pick, len(healthy))], true
}

// isWaypoint reports whether src is (one of the pods of) the waypoint ga.
func isWaypoint(st State, src *workloadapi.Workload, ga *workloadapi.GatewayAddress) bool {
	if ga.Hostname == nil {
		for _, ip := range src.IPs {
			if ip == ga.Address {
				return true
			}
		}
		return false
	}
	_, backs := src.Services[*ga.Hostname]
	return backs
}

func servicePort(svc *workloadapi.Service, p uint16) (workloadapi.Port, bool) {
	for _, sp := range svc.Ports {
		if sp.ServicePort == p {
			return sp, true
		}
	}
	return workloadapi.Port{}, false
}

// pickIndex calls pick and clamps a misbehaving picker into range.
func pickIndex(pick Picker, n int) int {
	if pick == nil {
		pick = RandomPicker
	}
	i := pick(n)
	if i < 0 || i >= n {
		return 0
	}
	return i
}

// ErrPlan is wrapped by every *PlanError.
var ErrPlan = errors.New("ztunnel: no route")

// PlanError is why Plan refused a connection.
type PlanError struct {
	Reason DenyReason
	Detail string
}

func (e *PlanError) Error() string { return e.Reason.String() + ": " + e.Detail }
func (e *PlanError) Unwrap() error { return ErrPlan }
