package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

// TypeURL names the resource on the ADS stream. One resource per waypoint,
// named "<gateway namespace>/<gateway name>"; its Any carries a
// google.protobuf.BytesValue whose bytes are Marshal's JSON.
const TypeURL = "type.googleapis.com/ambientlab.waypoint.v1.WaypointConfig"

// Version is the schema version carried in every Snapshot.
const Version = "ambientlab.io/waypoint/v1"

// Snapshot is the complete configuration of one waypoint.
type Snapshot struct {
	Version string `json:"version"`
	// Gateway is the waypoint's Gateway (its Deployment, Service and service
	// account share its name).
	Gateway GatewayRef `json:"gateway"`
	// For is the Gateway's istio.io/waypoint-for: service, workload, all, or
	// none (deployed, but nothing is bound to it: it serves no traffic).
	For string `json:"for"`
	// Workload applies to workload-addressed traffic (no destination Service):
	// policies attached to the Gateway and the istio-waypoint GatewayClass.
	Workload Target `json:"workload"`
	// Services are the Services that use this waypoint, sorted by
	// namespace/name, each with what is attached to it.
	Services []Service `json:"services,omitempty"`
}

// GatewayRef names a waypoint Gateway.
type GatewayRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (g GatewayRef) String() string { return g.Namespace + "/" + g.Name }

// Service is one Service bound to the waypoint (istio.io/use-waypoint).
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Hostname is <name>.<namespace>.svc.<domain>.
	Hostname string `json:"hostname"`
	// Addresses are the Service's VIPs; a CONNECT :authority VIP:port selects
	// the Service.
	Addresses []netip.Addr `json:"addresses"`
	Target
	// Routing is the Service's L7/L4 routing (GAMMA HTTPRoutes,
	// VirtualServices, TCPRoutes). Nil routes every request to the original
	// destination (the VIP:port it was sent to).
	Routing *route.Table `json:"routing,omitempty"`
}

// Target is what applies to requests for one destination.
type Target struct {
	// Policies are the AuthorizationPolicies that apply (targetRefs on the
	// Service, the Gateway and the GatewayClass), already converted.
	Policies []*policy.Policy `json:"policies,omitempty"`
	// JWTRules are the RequestAuthentication jwtRules that apply.
	JWTRules []jwtauthn.Rule `json:"jwtRules,omitempty"`
}

// Marshal encodes s.
func Marshal(s *Snapshot) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// Unmarshal decodes strictly (unknown fields and trailing data are errors)
// and validates.
func Unmarshal(b []byte) (*Snapshot, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("waypoint config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("waypoint config: trailing data after the snapshot")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks what decoding cannot: names, versions, policies.
func (s *Snapshot) Validate() error {
	if s.Version != Version {
		return fmt.Errorf("waypoint config: version %q, want %q", s.Version, Version)
	}
	if s.Gateway.Namespace == "" || s.Gateway.Name == "" {
		return errors.New("waypoint config: gateway: namespace and name are required")
	}
	switch s.For {
	case "service", "workload", "all", "none":
	default:
		return fmt.Errorf("waypoint config: for: %q is not service, workload, all or none", s.For)
	}
	if err := s.Workload.validate("workload"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range s.Services {
		svc := &s.Services[i]
		key := svc.Namespace + "/" + svc.Name
		where := fmt.Sprintf("services[%d] %s", i, key)
		if svc.Namespace == "" || svc.Name == "" || svc.Hostname == "" {
			return fmt.Errorf("waypoint config: %s: namespace, name and hostname are required", where)
		}
		if seen[key] {
			return fmt.Errorf("waypoint config: %s: duplicate service", where)
		}
		seen[key] = true
		for _, a := range svc.Addresses {
			if !a.IsValid() {
				return fmt.Errorf("waypoint config: %s: invalid address", where)
			}
		}
		if err := svc.Target.validate(where); err != nil {
			return err
		}
		if err := svc.Routing.Validate("waypoint config: " + where); err != nil {
			return err
		}
	}
	return nil
}

func (t *Target) validate(where string) error {
	for j, p := range t.Policies {
		if p == nil {
			return fmt.Errorf("waypoint config: %s: policies[%d]: null", where, j)
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("waypoint config: %s: policies[%d] %s: %w", where, j, p.Key(), err)
		}
	}
	for j, r := range t.JWTRules {
		if r.Issuer == "" {
			return fmt.Errorf("waypoint config: %s: jwtRules[%d]: issuer is required", where, j)
		}
		if (r.JWKS == "") == (r.JWKSURI == "") {
			return fmt.Errorf("waypoint config: %s: jwtRules[%d] %s: exactly one of jwks and jwksUri", where, j, r.Issuer)
		}
	}
	return nil
}

// ServiceFor returns the Service whose VIP is addr, or nil.
func (s *Snapshot) ServiceFor(addr netip.Addr) *Service {
	for i := range s.Services {
		for _, a := range s.Services[i].Addresses {
			if a == addr {
				return &s.Services[i]
			}
		}
	}
	return nil
}
