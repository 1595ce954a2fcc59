package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// testPKI is a tiny CA for crafting good and deliberately bad certificates.
// (dataplane may not import sim/controlplane/ca; the CA package has its own
// tests that its output passes this verifier.)
type testPKI struct {
	td   string
	root *x509.Certificate
	key  *ecdsa.PrivateKey
	now  time.Time
}

var serialCounter atomic.Int64

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub any, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(serialCounter.Add(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(now time.Time, name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func newPKI(t testing.TB, td string, now time.Time) *testPKI {
	t.Helper()
	k := newKey(t)
	return &testPKI{td: td, key: k, now: now, root: sign(t, caTemplate(now, td+" root"), nil, k.Public(), k)}
}

func (p *testPKI) bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString(p.td), []*x509.Certificate{p.root})
}

func (p *testPKI) verifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(p.bundle(), func() time.Time { return p.now })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// leafTemplate is a correct workload SVID template for uri.
func (p *testPKI) leafTemplate(uri string) *x509.Certificate {
	u, _ := url.Parse(uri)
	return &x509.Certificate{
		NotBefore: p.now.Add(-time.Minute), NotAfter: p.now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
	}
}

// issue signs tmpl by the root (or by inter when given) and returns the
// handshake chain and a Certificate holding the key.
func (p *testPKI) issue(t testing.TB, tmpl *x509.Certificate, inter *x509.Certificate, interKey *ecdsa.PrivateKey) ([]*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k := newKey(t)
	parent, parentKey := p.root, p.key
	if inter != nil {
		parent, parentKey = inter, interKey
	}
	leaf := sign(t, tmpl, parent, k.Public(), parentKey)
	chain := []*x509.Certificate{leaf}
	if inter != nil {
		chain = append(chain, inter)
	}
	return chain, k
}

func (p *testPKI) certificate(t testing.TB, id Identity) *Certificate {
	t.Helper()
	chain, k := p.issue(t, p.leafTemplate(id.String()), nil, nil)
	c, err := NewCertificate(k, append(chain, p.root))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
