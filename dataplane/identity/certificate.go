package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Certificate is one workload's X.509 SVID with its private key. It is
// immutable once built; rotation replaces the whole value, so a handshake
// never sees a key from one certificate and a chain from another (C8).
type Certificate struct {
	Identity Identity
	Leaf     *x509.Certificate
	// Intermediates are the certificates between the leaf and a root, in
	// order; they are sent in the handshake.
	Intermediates []*x509.Certificate
	// Roots are the trust anchors the CA returned with the chain (its last
	// element); informational, never sent.
	Roots []*x509.Certificate
	Key   crypto.Signer

	tls *tls.Certificate
}

// NewCertificate assembles a Certificate from a key and a chain as Istio's
// certificate service returns it: leaf first, intermediates, root last. A
// one-element chain has no roots. The leaf's identity is taken from its single
// URI SAN, and the leaf's public key must match key.
func NewCertificate(key crypto.Signer, chain []*x509.Certificate) (*Certificate, error) {
	if key == nil || len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("identity: NewCertificate: need a key and at least a leaf")
	}
	leaf := chain[0]
	id, err := identityFromLeaf(leaf)
	if err != nil {
		return nil, fmt.Errorf("identity: NewCertificate: %w", err)
	}
	if !publicKeysEqual(key.Public(), leaf.PublicKey) {
		return nil, errors.New("identity: NewCertificate: private key does not match the leaf")
	}
	c := &Certificate{Identity: id, Leaf: leaf, Key: key}
	rest := chain[1:]
	// Istio appends the root as the last element; keep it out of the
	// handshake chain (a self-signed CA cert is a root).
	for len(rest) > 0 && isSelfSigned(rest[len(rest)-1]) {
		c.Roots = append(c.Roots, rest[len(rest)-1])
		rest = rest[:len(rest)-1]
	}
	c.Intermediates = append([]*x509.Certificate(nil), rest...)
	raw := make([][]byte, 0, 1+len(c.Intermediates))
	raw = append(raw, leaf.Raw)
	for _, ic := range c.Intermediates {
		raw = append(raw, ic.Raw)
	}
	c.tls = &tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: leaf}
	return c, nil
}

// ParsePEMChain parses the cert_chain strings of an IstioCertificateResponse
// (each element may itself hold several PEM blocks).
func ParsePEMChain(elems []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, e := range elems {
		rest := []byte(e)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("identity: unexpected PEM block %q in chain", b.Type)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("identity: chain: %w", err)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("identity: empty certificate chain")
	}
	return out, nil
}

// TLSCertificate is the value handed to crypto/tls (leaf + intermediates).
func (c *Certificate) TLSCertificate() *tls.Certificate { return c.tls }

// NotBefore and NotAfter bound the leaf's validity.
func (c *Certificate) NotBefore() time.Time { return c.Leaf.NotBefore }
func (c *Certificate) NotAfter() time.Time  { return c.Leaf.NotAfter }

// Lifetime is NotAfter - NotBefore.
func (c *Certificate) Lifetime() time.Duration { return c.Leaf.NotAfter.Sub(c.Leaf.NotBefore) }

// RefreshAt is the half-life point, not_before + lifetime/2, where ztunnel
// (src/tls/certificate.rs refresh_at) starts fetching a replacement. A
// certificate whose window is inverted refreshes at not_after.
func (c *Certificate) RefreshAt() time.Time {
	if c.Lifetime() <= 0 {
		return c.Leaf.NotAfter
	}
	return c.Leaf.NotBefore.Add(c.Lifetime() / 2)
}

// ValidAt reports whether t lies inside the leaf's validity window.
func (c *Certificate) ValidAt(t time.Time) bool {
	return !t.Before(c.Leaf.NotBefore) && !t.After(c.Leaf.NotAfter)
}

// NewCSR generates a fresh ECDSA P-256 key and a PEM CSR naming id as its
// URI SAN (the CA ignores the CSR's names; they are there for parity with
// ztunnel's CsrOptions).
func NewCSR(id Identity) (csrPEM []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: generate key: %w", err)
	}
	sid := id.SPIFFEID()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{},
		URIs:    []*url.URL{sid.URL()},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.IsCA && c.CheckSignatureFrom(c) == nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
