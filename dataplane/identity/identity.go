// Package identity is the mesh's notion of who a workload is and how that is
// proven: the SPIFFE identity type, verification of peer X.509 SVIDs against
// the mesh roots, TLS configurations for HBONE, a per-node certificate
// Manager that fetches and rotates SVIDs, and a client for Istio's
// certificate service.
//
// It is not a CA (see sim/controlplane/ca) and makes no authorization
// decisions beyond "the peer is who the chain says, in our trust domain";
// policy lives in dataplane/policy.
package identity

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultTrustDomain is Istio's default trust domain.
const DefaultTrustDomain = "cluster.local"

// Identity is a Kubernetes service account identity in a trust domain, the
// only SPIFFE ID shape Istio issues: spiffe://<td>/ns/<ns>/sa/<sa>.
// The zero value is invalid; obtain values from Parse or New.
type Identity struct {
	TrustDomain    string
	Namespace      string
	ServiceAccount string
}

// ErrInvalidIdentity is wrapped by every Parse and New failure.
var ErrInvalidIdentity = errors.New("invalid identity")

// New validates the parts and returns the identity. Each part must be a valid
// SPIFFE trust domain or path segment (so no '/', '*', NUL or empty parts).
func New(trustDomain, namespace, serviceAccount string) (Identity, error) {
	id, err := spiffeid.FromSegments(mustTD(trustDomain), "ns", namespace, "sa", serviceAccount)
	if err != nil || trustDomain == "" {
		return Identity{}, fmt.Errorf("%w: %q/%q/%q: %v", ErrInvalidIdentity, trustDomain, namespace, serviceAccount, err)
	}
	return fromSPIFFEID(id)
}

// mustTD returns a zero trust domain on error; FromSegments then fails, which
// keeps New to a single error path.
func mustTD(td string) spiffeid.TrustDomain {
	t, _ := spiffeid.TrustDomainFromString(td)
	return t
}

// Parse parses "spiffe://td/ns/<ns>/sa/<sa>". Anything else — other
// schemes, query or fragment, extra or missing segments, empty parts,
// wildcards, percent-encoding, NUL — is rejected. The scheme-less principal
// form ("td/ns/x/sa/y") is not accepted here; use ParsePrincipal.
func Parse(s string) (Identity, error) {
	if strings.ContainsRune(s, 0) || strings.Contains(s, "*") {
		return Identity{}, fmt.Errorf("%w: %q: NUL or wildcard", ErrInvalidIdentity, s)
	}
	id, err := spiffeid.FromString(s)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %q: %v", ErrInvalidIdentity, s, err)
	}
	return fromSPIFFEID(id)
}

// ParsePrincipal parses the scheme-less form used in authorization policies.
func ParsePrincipal(p string) (Identity, error) {
	if strings.Contains(p, "://") {
		return Identity{}, fmt.Errorf("%w: principal %q must not carry a scheme", ErrInvalidIdentity, p)
	}
	return Parse("spiffe://" + p)
}

// FromSPIFFEID converts a parsed SPIFFE ID, requiring the Istio path shape.
func FromSPIFFEID(id spiffeid.ID) (Identity, error) { return fromSPIFFEID(id) }

func fromSPIFFEID(id spiffeid.ID) (Identity, error) {
	if id.IsZero() {
		return Identity{}, fmt.Errorf("%w: empty SPIFFE ID", ErrInvalidIdentity)
	}
	// spiffeid has already rejected empty, "." and ".." segments and
	// characters outside [A-Za-z0-9._-], so splitting on '/' is exact.
	segs := strings.Split(strings.TrimPrefix(id.Path(), "/"), "/")
	if len(segs) != 4 || segs[0] != "ns" || segs[2] != "sa" || segs[1] == "" || segs[3] == "" {
		return Identity{}, fmt.Errorf("%w: %q: path must be /ns/<namespace>/sa/<service-account>", ErrInvalidIdentity, id.String())
	}
	return Identity{TrustDomain: id.TrustDomain().Name(), Namespace: segs[1], ServiceAccount: segs[3]}, nil
}

// SPIFFEID returns the go-spiffe form. It panics only on an Identity that
// was not built by New/Parse and is invalid, which is a programming error.
func (i Identity) SPIFFEID() spiffeid.ID {
	id, err := spiffeid.FromSegments(mustTD(i.TrustDomain), "ns", i.Namespace, "sa", i.ServiceAccount)
	if err != nil {
		panic(fmt.Sprintf("identity: invalid Identity %#v: %v", i, err))
	}
	return id
}

// Valid reports whether the identity would survive a round trip through Parse.
func (i Identity) Valid() bool {
	_, err := New(i.TrustDomain, i.Namespace, i.ServiceAccount)
	return err == nil
}

// String is the SPIFFE URI, e.g. spiffe://cluster.local/ns/default/sa/bookinfo.
func (i Identity) String() string {
	return "spiffe://" + i.Principal()
}

// Principal is the scheme-less form used by AuthorizationPolicy principals,
// e.g. cluster.local/ns/default/sa/bookinfo.
func (i Identity) Principal() string {
	return i.TrustDomain + "/ns/" + i.Namespace + "/sa/" + i.ServiceAccount
}

// InTrustDomain reports whether the identity belongs to td.
func (i Identity) InTrustDomain(td string) bool { return i.TrustDomain == td }
