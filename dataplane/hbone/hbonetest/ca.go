// Package hbonetest provides test fixtures for HBONE: an in-memory ECDSA CA
// issuing SPIFFE URI-SAN certificates, TLS configs that verify SPIFFE peers
// the way ztunnel does (chain + expected identity, no SNI), and an echo
// server. It is for tests only; production configs come from
// dataplane/identity.
package hbonetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"net/url"
	"time"
)

// CA is a throwaway P-256 certificate authority for one trust domain.
type CA struct {
	TrustDomain string
	Cert        *x509.Certificate
	Pool        *x509.CertPool
	key         *ecdsa.PrivateKey
}

// NewCA creates a CA valid for a day.
func NewCA(trustDomain string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{trustDomain}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{TrustDomain: trustDomain, Cert: cert, Pool: pool, key: key}, nil
}

// SpiffeID renders spiffe://<td>/ns/<ns>/sa/<sa>.
func (ca *CA) SpiffeID(ns, sa string) string {
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", ca.TrustDomain, ns, sa)
}

// Issue signs a leaf whose only SAN is the SPIFFE URI id.
func (ca *CA) Issue(id string) (tls.Certificate, error) {
	u, err := url.Parse(id)
	if err != nil || u.Scheme != "spiffe" {
		return tls.Certificate{}, fmt.Errorf("hbonetest: bad SPIFFE ID %q", id)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		URIs:         []*url.URL{u},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// verify checks the chain against the CA and, if want is non-empty, that
// the leaf's SPIFFE ID equals want.
func (ca *CA) verify(rawCerts [][]byte, want string, usage x509.ExtKeyUsage) error {
	if len(rawCerts) == 0 {
		return errors.New("hbonetest: peer sent no certificate")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: ca.Pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return err
	}
	got := PeerIDOf(certs[0])
	if got == "" {
		return errors.New("hbonetest: peer certificate has no SPIFFE ID")
	}
	if want != "" && got != want {
		return fmt.Errorf("hbonetest: peer identity %q, want %q", got, want)
	}
	return nil
}

// ClientConfig presents cert and accepts only a server whose SPIFFE ID is
// wantServer. HBONE sends no SNI, so hostname verification is replaced by
// chain + SAN verification (InsecureSkipVerify only disables the former;
// VerifyPeerCertificate does the real check, as go-spiffe does).
func (ca *CA) ClientConfig(cert tls.Certificate, wantServer string) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, //nolint:gosec // verified below; test fixture
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return ca.verify(raw, wantServer, x509.ExtKeyUsageServerAuth)
		},
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
}

// ServerConfig presents cert and requires a client certificate from this CA.
func (ca *CA) ServerConfig(cert tls.Certificate) *tls.Config {
	return ca.ServerConfigByIP(map[netip.Addr]tls.Certificate{}, cert)
}

// ServerConfigByIP picks the certificate by the connection's local
// (original destination) IP, as ztunnel does without SNI; fallback is used
// for unknown IPs.
func (ca *CA) ServerConfigByIP(byIP map[netip.Addr]tls.Certificate, fallback tls.Certificate) *tls.Config {
	return &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String()); err == nil {
				if c, ok := byIP[ap.Addr().Unmap()]; ok {
					return &c, nil
				}
			}
			return &fallback, nil
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return ca.verify(raw, "", x509.ExtKeyUsageClientAuth)
		},
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
}

// PeerIDOf returns the first spiffe:// URI SAN, or "".
func PeerIDOf(c *x509.Certificate) string {
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// PeerID returns the SPIFFE ID of the TLS peer, or "".
func PeerID(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return PeerIDOf(cs.PeerCertificates[0])
}
