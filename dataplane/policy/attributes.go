package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Attributes is everything a decision may look at. The L4 part is what ztunnel has
// for a connection (ztunnel `rbac.rs` Connection: src, dst, src_identity); Request
// adds what a waypoint has after parsing HTTP. L4 attributes ⊂ L7 attributes: the
// waypoint fills the same struct plus Request.
//
// Only the TCP source address and the certificate identity are inputs; nothing a
// peer can write into headers (Forwarded, baggage, X-Forwarded-*) is (reliability Z5).
type Attributes struct {
	SourceIP netip.Addr
	// Source is the peer identity from its mTLS certificate; nil for plaintext,
	// which therefore fails every principal, namespace and service-account matcher.
	Source          *Identity
	DestinationIP   netip.Addr
	DestinationPort uint16
	// Request is nil at L4. A policy's L7 fields then fail closed: an ALLOW match
	// with L7 fields never matches and a DENY match is enforced without them, as
	// istiod's conversion for ztunnel does (istio `authorization.go` handleRule).
	Request *Request
}

// Request holds the L7 attributes. The waypoint must fill it from the same
// normalized request it forwards (W1, W2).
type Request struct {
	Host   string
	Method string
	Path   string
	// RequestPrincipal is "<iss>/<sub>" of a validated JWT, "" without one.
	RequestPrincipal string
	// RemoteIP is the original client per the waypoint's trusted-hop config;
	// invalid means "same as Attributes.SourceIP".
	RemoteIP netip.Addr
	// Headers maps a header name to its individual values; names compare
	// case-insensitively.
	Headers map[string][]string
}

// Identity is a SPIFFE identity of the Istio form spiffe://<td>/ns/<ns>/sa/<sa>.
type Identity struct {
	TrustDomain    string
	Namespace      string
	ServiceAccount string

	principal string // cached "<td>/ns/<ns>/sa/<sa>"
}

// NewIdentity builds an Identity with its principal precomputed.
func NewIdentity(trustDomain, namespace, serviceAccount string) *Identity {
	id := &Identity{TrustDomain: trustDomain, Namespace: namespace, ServiceAccount: serviceAccount}
	id.principal = id.buildPrincipal()
	return id
}

// ParseIdentity parses spiffe://<td>/ns/<ns>/sa/<sa>, rejecting any other shape
// (as ztunnel's Identity::from_str does), so a malformed SAN never yields a
// principal that a prefix or suffix matcher could accept.
func ParseIdentity(uri string) (*Identity, error) {
	rest, ok := strings.CutPrefix(uri, "spiffe://")
	if !ok {
		return nil, fmt.Errorf("policy: identity %q: missing spiffe:// scheme", uri)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
		return nil, fmt.Errorf("policy: identity %q: want spiffe://<td>/ns/<ns>/sa/<sa>", uri)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("policy: identity %q: empty segment", uri)
		}
	}
	return NewIdentity(parts[0], parts[2], parts[4]), nil
}

// Principal is the identity without "spiffe://", the form Istio principals use
// (ztunnel `rbac.rs` matches_principal strips the scheme).
func (id *Identity) Principal() string {
	if id.principal != "" {
		return id.principal
	}
	return id.buildPrincipal()
}

// String is the full SPIFFE URI.
func (id *Identity) String() string { return "spiffe://" + id.Principal() }

func (id *Identity) buildPrincipal() string {
	return id.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}
