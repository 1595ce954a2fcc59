package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Reason is why a peer certificate was refused. The set is closed: every
// VerifyError carries exactly one of the constants below, so tests and
// access logs can assert on it.
type Reason string

const (
	ReasonNoCertificate       Reason = "no-certificate"
	ReasonMalformed           Reason = "malformed-certificate"
	ReasonExpired             Reason = "expired"
	ReasonNotYetValid         Reason = "not-yet-valid"
	ReasonUnknownAuthority    Reason = "unknown-authority"
	ReasonInvalidChain        Reason = "invalid-chain"
	ReasonNotALeaf            Reason = "not-a-leaf"
	ReasonBadKeyUsage         Reason = "bad-key-usage"
	ReasonMalformedSAN        Reason = "malformed-san"
	ReasonTrustDomainMismatch Reason = "trust-domain-mismatch"
	ReasonIdentityMismatch    Reason = "identity-mismatch"
	ReasonBadProtocol         Reason = "bad-protocol"
)

// Reasons lists the closed set, for exhaustive tests and metrics labels.
var Reasons = []Reason{
	ReasonNoCertificate, ReasonMalformed, ReasonExpired, ReasonNotYetValid,
	ReasonUnknownAuthority, ReasonInvalidChain, ReasonNotALeaf, ReasonBadKeyUsage,
	ReasonMalformedSAN, ReasonTrustDomainMismatch, ReasonIdentityMismatch, ReasonBadProtocol,
}

// VerifyError is returned for every refused peer. Identity is set when the
// SAN could be parsed (useful in logs even when the peer is refused).
type VerifyError struct {
	Reason   Reason
	Identity Identity
	Err      error
}

func (e *VerifyError) Error() string {
	if e.Err == nil {
		return "identity: peer refused: " + string(e.Reason)
	}
	return fmt.Sprintf("identity: peer refused: %s: %v", e.Reason, e.Err)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// ReasonOf extracts the Reason from err, or "" when err is not a VerifyError.
func ReasonOf(err error) Reason {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

func refuse(r Reason, id Identity, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: r, Identity: id, Err: fmt.Errorf(format, args...)}
}

// Usage says which role the peer plays, and so which extended key usage its
// leaf must carry.
type Usage int

const (
	// UsageClient: the peer is a TLS client (we are the server).
	UsageClient Usage = iota
	// UsageServer: the peer is a TLS server (we are the client).
	UsageServer
)

func (u Usage) eku() x509.ExtKeyUsage {
	if u == UsageServer {
		return x509.ExtKeyUsageServerAuth
	}
	return x509.ExtKeyUsageClientAuth
}

// Verifier checks peer X.509 SVIDs against the mesh roots of one trust
// domain. It is stricter than ztunnel (reliability-tests C1/C2): exactly one
// URI SAN that parses as an Istio identity, our trust domain only, a leaf
// that is not a CA and may sign (DigitalSignature), an explicit EKU for the
// role, a current validity window on every certificate, and a chain to a
// root in the bundle. Safe for concurrent use; the bundle may be updated
// in place (x509bundle.Bundle is concurrency-safe) to rotate roots.
type Verifier struct {
	bundle *x509bundle.Bundle
	now    func() time.Time
}

// NewVerifier returns a verifier trusting bundle's authorities for bundle's
// trust domain. now defaults to time.Now (which testing/synctest fakes).
func NewVerifier(bundle *x509bundle.Bundle, now func() time.Time) (*Verifier, error) {
	if bundle == nil {
		return nil, errors.New("identity: NewVerifier: nil bundle")
	}
	if _, err := New(bundle.TrustDomain().Name(), "x", "x"); err != nil {
		return nil, fmt.Errorf("identity: NewVerifier: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{bundle: bundle, now: now}, nil
}

// TrustDomain is the only trust domain this verifier accepts.
func (v *Verifier) TrustDomain() string { return v.bundle.TrustDomain().Name() }

// Bundle returns the live trust bundle.
func (v *Verifier) Bundle() *x509bundle.Bundle { return v.bundle }

// VerifyRaw parses DER certificates (leaf first, then intermediates) as
// presented in a TLS handshake and verifies them.
func (v *Verifier) VerifyRaw(raw [][]byte, usage Usage) (Identity, error) {
	if len(raw) == 0 {
		return Identity{}, refuse(ReasonNoCertificate, Identity{}, "peer presented no certificate")
	}
	certs := make([]*x509.Certificate, 0, len(raw))
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return Identity{}, refuse(ReasonMalformed, Identity{}, "certificate %d: %v", i, err)
		}
		certs = append(certs, c)
	}
	return v.Verify(certs, usage)
}

// Verify checks a parsed chain (leaf first). The checks run from the
// cheapest and most specific to the chain build, so the Reason names the
// first thing wrong rather than a generic chain failure.
func (v *Verifier) Verify(certs []*x509.Certificate, usage Usage) (Identity, error) {
	if len(certs) == 0 || certs[0] == nil {
		return Identity{}, refuse(ReasonNoCertificate, Identity{}, "peer presented no certificate")
	}
	leaf := certs[0]
	id, err := identityFromLeaf(leaf)
	if err != nil {
		return Identity{}, err
	}
	if id.TrustDomain != v.TrustDomain() {
		return id, refuse(ReasonTrustDomainMismatch, id, "peer trust domain %q, want %q", id.TrustDomain, v.TrustDomain())
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		return id, refuse(ReasonNotALeaf, id, "leaf must carry basic constraints CA:false (IsCA=%v)", leaf.IsCA)
	}
	if leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return id, refuse(ReasonBadKeyUsage, id, "leaf key usage %#x: needs DigitalSignature, no CertSign/CRLSign", leaf.KeyUsage)
	}
	if !hasEKU(leaf, usage.eku()) {
		return id, refuse(ReasonBadKeyUsage, id, "leaf lacks extended key usage %v", usage.eku())
	}
	now := v.now()
	for i, c := range certs {
		if now.Before(c.NotBefore) {
			return id, refuse(ReasonNotYetValid, id, "certificate %d valid from %s, now %s", i, c.NotBefore.UTC(), now.UTC())
		}
		if now.After(c.NotAfter) {
			return id, refuse(ReasonExpired, id, "certificate %d expired at %s, now %s", i, c.NotAfter.UTC(), now.UTC())
		}
	}
	roots := x509.NewCertPool()
	for _, r := range v.bundle.X509Authorities() {
		roots.AddCert(r)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{usage.eku()},
	}); err != nil {
		return id, classifyChainError(id, err)
	}
	// Belt and braces: go-spiffe's own SVID rules must agree with ours.
	if _, _, err := x509svid.Verify(certs, v.bundle, x509svid.WithTime(now)); err != nil {
		return id, refuse(ReasonInvalidChain, id, "%v", err)
	}
	return id, nil
}

// VerifyExpected verifies and then requires the identity to be one of want
// (fail closed on an empty want).
func (v *Verifier) VerifyExpected(certs []*x509.Certificate, usage Usage, want []Identity) (Identity, error) {
	id, err := v.Verify(certs, usage)
	if err != nil {
		return id, err
	}
	for _, w := range want {
		if w == id {
			return id, nil
		}
	}
	return id, refuse(ReasonIdentityMismatch, id, "peer %s is not one of the %d expected identities", id, len(want))
}

// identityFromLeaf enforces "exactly one URI SAN, an Istio SPIFFE ID".
func identityFromLeaf(leaf *x509.Certificate) (Identity, error) {
	sid, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return Identity{}, refuse(ReasonMalformedSAN, Identity{}, "%v (URI SANs: %d, DNS SANs: %d)", err, len(leaf.URIs), len(leaf.DNSNames))
	}
	id, err := fromSPIFFEID(sid)
	if err != nil {
		return Identity{}, refuse(ReasonMalformedSAN, Identity{}, "%v", err)
	}
	return id, nil
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}

func classifyChainError(id Identity, err error) *VerifyError {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return refuse(ReasonUnknownAuthority, id, "%v", err)
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		switch ci.Reason {
		case x509.Expired:
			return refuse(ReasonExpired, id, "%v", err)
		case x509.IncompatibleUsage:
			return refuse(ReasonBadKeyUsage, id, "%v", err)
		}
	}
	return refuse(ReasonInvalidChain, id, "%v", err)
}
