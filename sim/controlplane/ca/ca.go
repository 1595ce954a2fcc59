// Package ca is the simulator's mesh certificate authority: an ECDSA P-256
// root (optionally with an intermediate) issuing X.509 SVIDs, served as
// Istio's IstioCertificateService with node-bound authorization (a ztunnel
// may obtain only identities of pods on its own node) and pod-bound
// authorization (a waypoint may obtain only its own pod's identity).
//
// New keeps everything in memory; Open keeps the signing material and the
// bootstrap bindings in a directory (store.go), the way istiod keeps its
// self-signed root in the istio-ca-secret, so a restarted control plane
// goes on honouring the credentials it handed out.
//
// It is not a general PKI: no revocation lists, one root per state
// directory. Root rotation (reliability-tests C8) is not implemented.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Options configures a CA. DefaultOptions gives Istio's defaults.
type Options struct {
	TrustDomain string
	// DefaultTTL applies when a request asks for a non-positive TTL.
	DefaultTTL time.Duration
	// MaxTTL is the cap; like istio (security/pkg/pki/ca/ca.go sign), a
	// request above it is refused, not silently shortened.
	MaxTTL time.Duration
	// RootTTL is the lifetime of the root (and intermediate).
	RootTTL time.Duration
	// Intermediate makes the root sign an intermediate that issues leaves.
	Intermediate bool
	// MaxCSRBytes bounds the PEM CSR accepted by Sign.
	MaxCSRBytes int
	Logger      *slog.Logger
}

// DefaultOptions: cluster.local, 24 h default and max TTL, 1 year root.
func DefaultOptions() Options {
	return Options{
		TrustDomain: identity.DefaultTrustDomain,
		DefaultTTL:  24 * time.Hour,
		MaxTTL:      24 * time.Hour,
		RootTTL:     365 * 24 * time.Hour,
		MaxCSRBytes: 64 << 10,
	}
}

// ErrorKind is the closed set of signing failures, mirroring istio's
// caerror types and their gRPC codes.
type ErrorKind string

const (
	KindCSR     ErrorKind = "csr-error"      // InvalidArgument
	KindTTL     ErrorKind = "ttl-error"      // InvalidArgument
	KindCertGen ErrorKind = "cert-gen-error" // Internal
)

// Error is a signing failure.
type Error struct {
	Kind ErrorKind
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("ca: %s: %v", e.Kind, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

func fail(k ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// CA issues certificates. Safe for concurrent use.
type CA struct {
	opts     Options
	td       spiffeid.TrustDomain
	log      *slog.Logger
	root     *x509.Certificate
	signer   *x509.Certificate // root or intermediate
	key      crypto.Signer     // signer's key
	chainPEM []string          // intermediates to append after a leaf
	rootPEM  string

	// store persists bindings (nil: in memory only).
	store *store

	mu struct {
		sync.Mutex
		// bindings maps the serial (hex) of each bootstrap certificate
		// to the node or pod it was issued for.
		bindings map[string]Binding
	}
}

// material is what signs: the root, the signer (root or intermediate), the
// signer's key, and the intermediates between signer and root.
type material struct {
	root, signer *x509.Certificate
	key          crypto.Signer
	chain        []*x509.Certificate
}

// New generates a fresh root (and intermediate) in memory.
func New(opts Options) (*CA, error) {
	td, log, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	m, err := generate(opts, td)
	if err != nil {
		return nil, err
	}
	return fromMaterial(opts, td, log, m), nil
}

func checkOptions(opts Options) (spiffeid.TrustDomain, *slog.Logger, error) {
	td, err := spiffeid.TrustDomainFromString(opts.TrustDomain)
	if err != nil {
		return spiffeid.TrustDomain{}, nil, fmt.Errorf("ca: trust domain: %w", err)
	}
	if opts.DefaultTTL <= 0 || opts.MaxTTL <= 0 || opts.DefaultTTL > opts.MaxTTL || opts.RootTTL < opts.MaxTTL || opts.MaxCSRBytes <= 0 {
		return spiffeid.TrustDomain{}, nil, fmt.Errorf("ca: invalid TTL/size options %+v", opts)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return td, log, nil
}

func fromMaterial(opts Options, td spiffeid.TrustDomain, log *slog.Logger, m *material) *CA {
	c := &CA{opts: opts, td: td, log: log, root: m.root, signer: m.signer, key: m.key}
	for _, inter := range m.chain {
		c.chainPEM = append(c.chainPEM, encodeCert(inter))
	}
	c.rootPEM = encodeCert(c.root)
	c.mu.bindings = make(map[string]Binding)
	return c
}

func generate(opts Options, td spiffeid.TrustDomain) (*material, error) {
	now := time.Now().Truncate(time.Second)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, err := createCA(&x509.Certificate{
		Subject:   pkix.Name{Organization: []string{td.Name()}, CommonName: "ambientlab root CA"},
		NotBefore: now, NotAfter: now.Add(opts.RootTTL),
		URIs: []*url.URL{td.ID().URL()},
	}, nil, rootKey, rootKey)
	if err != nil {
		return nil, err
	}
	m := &material{root: root, signer: root, key: rootKey}
	if opts.Intermediate {
		ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		inter, err := createCA(&x509.Certificate{
			Subject:   pkix.Name{Organization: []string{td.Name()}, CommonName: "ambientlab intermediate CA"},
			NotBefore: now, NotAfter: now.Add(opts.RootTTL),
			URIs: []*url.URL{td.ID().URL()},
		}, root, ik, rootKey)
		if err != nil {
			return nil, err
		}
		m.signer, m.key, m.chain = inter, ik, []*x509.Certificate{inter}
	}
	return m, nil
}

func createCA(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("ca: create CA certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// TrustDomain is the CA's trust domain.
func (c *CA) TrustDomain() string { return c.td.Name() }

// RootsPEM is the trust bundle in PEM (one root).
func (c *CA) RootsPEM() []byte { return []byte(c.rootPEM) }

// Roots returns the root certificates.
func (c *CA) Roots() []*x509.Certificate { return []*x509.Certificate{c.root} }

// Bundle returns a new go-spiffe bundle of the roots for the trust domain,
// as consumed by identity.NewVerifier.
func (c *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(c.td, c.Roots())
}

// Sign issues a certificate for id to the key in csrPEM, valid for ttl
// (non-positive: DefaultTTL; above MaxTTL: refused with KindTTL). The SAN
// is id alone; nothing from the CSR but its public key is used. It returns
// the chain as Istio does: leaf, intermediates, root last.
func (c *CA) Sign(csrPEM []byte, id identity.Identity, ttl time.Duration) ([]string, error) {
	if len(csrPEM) > c.opts.MaxCSRBytes {
		return nil, fail(KindCSR, "CSR of %d bytes exceeds %d", len(csrPEM), c.opts.MaxCSRBytes)
	}
	pub, err := c.parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		ttl = c.opts.DefaultTTL
	}
	if ttl > c.opts.MaxTTL {
		return nil, fail(KindTTL, "requested TTL %s is greater than the max allowed TTL %s", ttl, c.opts.MaxTTL)
	}
	leaf, err := c.issue(pub, id, ttl, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, nil)
	if err != nil {
		return nil, err
	}
	return c.chainFor(leaf), nil
}

func (c *CA) chainFor(leaf *x509.Certificate) []string {
	out := make([]string, 0, 2+len(c.chainPEM))
	out = append(out, encodeCert(leaf))
	out = append(out, c.chainPEM...)
	return append(out, c.rootPEM)
}

// parseCSR accepts exactly one PEM CERTIFICATE REQUEST with a valid
// self-signature over an allowed key type.
func (c *CA) parseCSR(csrPEM []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fail(KindCSR, "no PEM CERTIFICATE REQUEST block")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fail(KindCSR, "more than one PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fail(KindCSR, "parse CSR: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fail(KindCSR, "CSR signature: %v", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fail(KindCSR, "ECDSA curve %s not allowed", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 4096 {
			return nil, fail(KindCSR, "RSA key of %d bits not allowed", n)
		}
	case ed25519.PublicKey:
	default:
		return nil, fail(KindCSR, "key type %T not allowed", k)
	}
	return csr.PublicKey, nil
}

// issue signs a leaf. NotBefore is truncated to the second because that is
// what X.509 encodes; the half-life arithmetic of the holder then agrees
// with the certificate exactly. NotAfter never outlives the signer.
func (c *CA) issue(pub crypto.PublicKey, id identity.Identity, ttl time.Duration, eku []x509.ExtKeyUsage, dns []string) (*x509.Certificate, error) {
	return c.issueWithSubject(pub, id, ttl, eku, dns, pkix.Name{})
}

// issueWithSubject is issue with a Subject; only pod bootstrap certificates
// carry one (their marker, see podBootstrapOU).
func (c *CA) issueWithSubject(pub crypto.PublicKey, id identity.Identity, ttl time.Duration, eku []x509.ExtKeyUsage, dns []string, subject pkix.Name) (*x509.Certificate, error) {
	if id.TrustDomain != c.td.Name() || !id.Valid() {
		return nil, fail(KindCertGen, "identity %s not issuable in trust domain %s", id, c.td.Name())
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fail(KindCertGen, "%v", err)
	}
	notBefore := time.Now().Truncate(time.Second)
	notAfter := notBefore.Add(ttl)
	if notAfter.After(c.signer.NotAfter) {
		notAfter = c.signer.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{id.SPIFFEID().URL()},
		DNSNames:              dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.signer, pub, c.key)
	if err != nil {
		return nil, fail(KindCertGen, "%v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fail(KindCertGen, "%v", err)
	}
	return cert, nil
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func serialKey(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

func encodeCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

var errEmptyNode = errors.New("ca: empty node name")
