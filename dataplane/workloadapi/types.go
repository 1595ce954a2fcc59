package workloadapi

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// TunnelProtocol is how a workload accepts mesh traffic (workload.proto
// TunnelProtocol). Ambient-captured pods speak HBONE; anything else gets plain
// TCP to podIP:port (ambient-semantics.md §4 step 6).
type TunnelProtocol uint8

const (
	// TunnelTCP is the wire NONE: forward as-is, no tunnel.
	TunnelTCP TunnelProtocol = iota + 1
	// TunnelHBONE is HTTP CONNECT over mTLS to podIP:15008.
	TunnelHBONE
)

func (p TunnelProtocol) String() string {
	switch p {
	case TunnelTCP:
		return "TCP"
	case TunnelHBONE:
		return "HBONE"
	}
	return fmt.Sprintf("TunnelProtocol(%d)", uint8(p))
}

// ParseTunnelProtocol accepts "TCP" (or the wire name "NONE") and "HBONE",
// the spellings of ztunnel's LOCAL_XDS_PATH files.
func ParseTunnelProtocol(s string) (TunnelProtocol, error) {
	switch s {
	case "TCP", "NONE":
		return TunnelTCP, nil
	case "HBONE":
		return TunnelHBONE, nil
	}
	return 0, fmt.Errorf("unknown tunnel protocol %q (want HBONE or TCP)", s)
}

// MarshalText makes dumps readable.
func (p TunnelProtocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// WorkloadStatus says whether a workload may receive traffic.
type WorkloadStatus uint8

const (
	StatusHealthy WorkloadStatus = iota + 1
	StatusUnhealthy
)

func (s WorkloadStatus) String() string {
	switch s {
	case StatusHealthy:
		return "Healthy"
	case StatusUnhealthy:
		return "Unhealthy"
	}
	return fmt.Sprintf("WorkloadStatus(%d)", uint8(s))
}

// ParseWorkloadStatus accepts "Healthy" and "Unhealthy" (case-insensitive).
func ParseWorkloadStatus(s string) (WorkloadStatus, error) {
	switch strings.ToLower(s) {
	case "healthy":
		return StatusHealthy, nil
	case "unhealthy":
		return StatusUnhealthy, nil
	}
	return 0, fmt.Errorf("unknown workload status %q", s)
}

// MarshalText makes dumps readable.
func (s WorkloadStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ServiceKey names a Service the way the workload API keys a Workload's
// services map: "<namespace>/<hostname>" (workload.proto NamespacedHostname).
type ServiceKey struct {
	Namespace string
	Hostname  string
}

func (k ServiceKey) String() string { return k.Namespace + "/" + k.Hostname }

// MarshalText lets ServiceKey be a JSON map key.
func (k ServiceKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// ParseServiceKey parses "<namespace>/<hostname>"; both parts are required.
func ParseServiceKey(s string) (ServiceKey, error) {
	ns, host, ok := strings.Cut(s, "/")
	if !ok || ns == "" || host == "" || strings.Contains(host, "/") {
		return ServiceKey{}, fmt.Errorf("service key %q is not <namespace>/<hostname>", s)
	}
	return ServiceKey{Namespace: ns, Hostname: host}, nil
}

// Workload is one addressable workload (a pod). Fields follow workload.proto
// Workload; only what the reference data plane uses is kept.
type Workload struct {
	UID            string
	Name           string
	Namespace      string
	ServiceAccount string
	Node           string
	ClusterID      string
	Network        string
	TrustDomain    string
	// IPs are canonical (IPv4 never in IPv4-mapped form).
	IPs      []netip.Addr
	Protocol TunnelProtocol
	// Services maps each Service this workload backs to service port → target
	// port (workload.proto `services`, key "<ns>/<hostname>").
	Services map[ServiceKey]map[uint16]uint16
	// AuthorizationPolicies are "<ns>/<name>" keys of the WORKLOAD_SELECTOR
	// policies that select this workload; namespace and global policies apply
	// out of band (workload.proto l.288-292).
	AuthorizationPolicies []string
	// Waypoint is the workload waypoint, nil if none.
	Waypoint          *GatewayAddress
	CanonicalName     string
	CanonicalRevision string
	WorkloadName      string
	Status            WorkloadStatus
}

// Identity is the SPIFFE identity the workload's certificate carries.
// An empty trust domain means identity.DefaultTrustDomain, as in ztunnel
// (`src/state/workload.rs` identity()).
func (w *Workload) Identity() identity.Identity {
	td := w.TrustDomain
	if td == "" {
		td = identity.DefaultTrustDomain
	}
	return identity.Identity{TrustDomain: td, Namespace: w.Namespace, ServiceAccount: w.ServiceAccount}
}

// Key is "<namespace>/<name>", for logs.
func (w *Workload) Key() string { return w.Namespace + "/" + w.Name }

// Service is a Kubernetes Service as the data plane routes to it.
type Service struct {
	Name      string
	Namespace string
	Hostname  string
	// VIPs are canonical ClusterIPs; empty for headless Services.
	VIPs     []netip.Addr
	Ports    []Port
	Waypoint *GatewayAddress
}

// Key is the Service's ServiceKey.
func (s *Service) Key() ServiceKey { return ServiceKey{Namespace: s.Namespace, Hostname: s.Hostname} }

// Port maps a Service port to the default target port (a workload's own
// services map overrides it per workload, e.g. for named ports).
type Port struct {
	ServicePort uint16
	TargetPort  uint16
	// AppProtocol is the port's declared protocol (workload.proto
	// Port.app_protocol): a waypoint serves HTTP/1.1, HTTP2 and GRPC ports at
	// L7 and everything else as TCP.
	AppProtocol AppProtocol `json:",omitempty"`
}

// AppProtocol is workload.proto AppProtocol.
type AppProtocol uint8

const (
	AppProtocolUnknown AppProtocol = iota
	AppProtocolHTTP11
	AppProtocolHTTP2
	AppProtocolGRPC
	AppProtocolTCP
	AppProtocolTLS
)

func (p AppProtocol) String() string {
	switch p {
	case AppProtocolUnknown:
		return "UNKNOWN"
	case AppProtocolHTTP11:
		return "HTTP11"
	case AppProtocolHTTP2:
		return "HTTP2"
	case AppProtocolGRPC:
		return "GRPC"
	case AppProtocolTCP:
		return "TCP"
	case AppProtocolTLS:
		return "TLS"
	}
	return fmt.Sprintf("AppProtocol(%d)", uint8(p))
}

// MarshalText makes dumps readable.
func (p AppProtocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// GatewayAddress is where to send traffic for a waypoint or network gateway:
// either a Service hostname or an IP, plus the HBONE port (workload.proto
// GatewayAddress). Exactly one of Hostname and Address is set.
type GatewayAddress struct {
	Hostname  *ServiceKey `json:",omitempty"`
	Address   netip.Addr  `json:",omitzero"`
	Network   string      `json:",omitempty"`
	HBONEPort uint16
}

func (g *GatewayAddress) String() string {
	if g.Hostname != nil {
		return fmt.Sprintf("%s:%d", g.Hostname, g.HBONEPort)
	}
	return netip.AddrPortFrom(g.Address, g.HBONEPort).String()
}
