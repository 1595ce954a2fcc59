package workloadapi

import (
	"fmt"
	"net/netip"
	"sort"

	"istio.io/istio/pkg/workloadapi"
)

// WorkloadFromWire converts one wire Workload, as ztunnel `src/state/workload.rs`
// TryFrom<XdsWorkload> does, but stricter: a malformed address, port or key is
// an error (the xDS edge NACKs it) rather than skipped, because silently
// dropping data can widen what a proxy allows.
func WorkloadFromWire(x *workloadapi.Workload) (*Workload, error) {
	if x == nil {
		return nil, fmt.Errorf("nil workload")
	}
	w := &Workload{
		UID: x.GetUid(), Name: x.GetName(), Namespace: x.GetNamespace(),
		ServiceAccount: x.GetServiceAccount(), Node: x.GetNode(), ClusterID: x.GetClusterId(),
		Network: x.GetNetwork(), TrustDomain: x.GetTrustDomain(),
		CanonicalName: x.GetCanonicalName(), CanonicalRevision: x.GetCanonicalRevision(),
		WorkloadName: x.GetWorkloadName(),
	}
	fail := func(format string, a ...any) (*Workload, error) {
		return nil, fmt.Errorf("workload %q (%s/%s): %s", w.UID, w.Namespace, w.Name, fmt.Sprintf(format, a...))
	}
	switch {
	case w.UID == "":
		return fail("uid is empty")
	case w.Name == "" || w.Namespace == "":
		return fail("name and namespace are required")
	}
	switch x.GetTunnelProtocol() {
	case workloadapi.TunnelProtocol_NONE:
		w.Protocol = TunnelTCP
	case workloadapi.TunnelProtocol_HBONE:
		w.Protocol = TunnelHBONE
	default:
		return fail("unsupported tunnel protocol %v", x.GetTunnelProtocol())
	}
	switch x.GetStatus() {
	case workloadapi.WorkloadStatus_HEALTHY:
		w.Status = StatusHealthy
	case workloadapi.WorkloadStatus_UNHEALTHY:
		w.Status = StatusUnhealthy
	default:
		return fail("unknown status %v", x.GetStatus())
	}
	for i, b := range x.GetAddresses() {
		ip, err := addrFromBytes(b)
		if err != nil {
			return fail("addresses[%d]: %v", i, err)
		}
		w.IPs = append(w.IPs, ip)
	}
	if len(w.IPs) == 0 && x.GetHostname() == "" {
		return fail("neither addresses nor hostname")
	}
	if len(x.GetServices()) > 0 {
		w.Services = make(map[ServiceKey]map[uint16]uint16, len(x.GetServices()))
	}
	for key, pl := range x.GetServices() {
		sk, err := ParseServiceKey(key)
		if err != nil {
			return fail("services: %v", err)
		}
		ports := make(map[uint16]uint16, len(pl.GetPorts()))
		for _, p := range pl.GetPorts() {
			sp, tp, err := portPair(p)
			if err != nil {
				return fail("services[%s]: %v", key, err)
			}
			ports[sp] = tp
		}
		w.Services[sk] = ports
	}
	w.AuthorizationPolicies = append([]string(nil), x.GetAuthorizationPolicies()...)
	if x.GetWaypoint() != nil {
		g, err := gatewayFromWire(x.GetWaypoint())
		if err != nil {
			return fail("waypoint: %v", err)
		}
		w.Waypoint = g
	}
	return w, nil
}

// ServiceFromWire converts one wire Service (ztunnel `src/state/service.rs`).
func ServiceFromWire(x *workloadapi.Service) (*Service, error) {
	if x == nil {
		return nil, fmt.Errorf("nil service")
	}
	s := &Service{Name: x.GetName(), Namespace: x.GetNamespace(), Hostname: x.GetHostname()}
	fail := func(format string, a ...any) (*Service, error) {
		return nil, fmt.Errorf("service %s/%s: %s", s.Namespace, s.Hostname, fmt.Sprintf(format, a...))
	}
	if s.Name == "" || s.Namespace == "" || s.Hostname == "" {
		return fail("name, namespace and hostname are required")
	}
	for i, a := range x.GetAddresses() {
		ip, err := addrFromBytes(a.GetAddress())
		if err != nil {
			return fail("addresses[%d]: %v", i, err)
		}
		s.VIPs = append(s.VIPs, ip)
	}
	for i, p := range x.GetPorts() {
		sp, tp, err := portPair(p)
		if err != nil {
			return fail("ports[%d]: %v", i, err)
		}
		s.Ports = append(s.Ports, Port{ServicePort: sp, TargetPort: tp, AppProtocol: appProtocolFromWire(p.GetAppProtocol())})
	}
	if x.GetWaypoint() != nil {
		g, err := gatewayFromWire(x.GetWaypoint())
		if err != nil {
			return fail("waypoint: %v", err)
		}
		s.Waypoint = g
	}
	return s, nil
}

func gatewayFromWire(x *workloadapi.GatewayAddress) (*GatewayAddress, error) {
	if x.GetHboneMtlsPort() == 0 || x.GetHboneMtlsPort() > 65535 {
		return nil, fmt.Errorf("hbone_mtls_port %d out of range", x.GetHboneMtlsPort())
	}
	g := &GatewayAddress{HBONEPort: uint16(x.GetHboneMtlsPort())}
	switch d := x.GetDestination().(type) {
	case *workloadapi.GatewayAddress_Hostname:
		if d.Hostname.GetNamespace() == "" || d.Hostname.GetHostname() == "" {
			return nil, fmt.Errorf("hostname destination needs namespace and hostname")
		}
		g.Hostname = &ServiceKey{Namespace: d.Hostname.GetNamespace(), Hostname: d.Hostname.GetHostname()}
	case *workloadapi.GatewayAddress_Address:
		ip, err := addrFromBytes(d.Address.GetAddress())
		if err != nil {
			return nil, err
		}
		g.Address, g.Network = ip, d.Address.GetNetwork()
	default:
		return nil, fmt.Errorf("no destination")
	}
	return g, nil
}

// appProtocolFromWire keeps the known values; a value from a newer istiod is
// UNKNOWN (served as TCP), as an unrecognised proto3 enum should be.
func appProtocolFromWire(p workloadapi.AppProtocol) AppProtocol {
	if p < workloadapi.AppProtocol_UNKNOWN || p > workloadapi.AppProtocol_TLS {
		return AppProtocolUnknown
	}
	return AppProtocol(p)
}

func portPair(p *workloadapi.Port) (service, target uint16, err error) {
	if p.GetServicePort() == 0 || p.GetServicePort() > 65535 || p.GetTargetPort() > 65535 {
		return 0, 0, fmt.Errorf("port %d→%d out of range", p.GetServicePort(), p.GetTargetPort())
	}
	return uint16(p.GetServicePort()), uint16(p.GetTargetPort()), nil
}

// addrFromBytes accepts 4- or 16-byte addresses and unmaps IPv4-in-IPv6 so
// that lookups compare canonical forms.
func addrFromBytes(b []byte) (netip.Addr, error) {
	ip, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.Addr{}, fmt.Errorf("address of %d bytes", len(b))
	}
	return ip.Unmap(), nil
}

// sortedServiceKeys returns m's keys in order, for deterministic output.
func sortedServiceKeys[V any](m map[ServiceKey]V) []ServiceKey {
	keys := make([]ServiceKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}
