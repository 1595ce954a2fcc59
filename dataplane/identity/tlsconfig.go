package identity

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ALPNHBONE is the only application protocol HBONE speaks (no h2c, no h1).
const ALPNHBONE = "h2"

// curvePreferences pins key exchange so runs are comparable: X25519 first,
// P-256 as the fallback. This deliberately leaves out Go's default
// X25519MLKEM768 hybrid (larger ClientHello, different CPU profile).
// TLS 1.3 cipher suites are not configurable in crypto/tls (it picks
// AES-GCM or ChaCha20 by hardware support), so nothing is pinned there.
var curvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}

// CertSource finds the certificate to present for a local address: the
// workload that owns ip (the connection's original destination). It must
// return an error — never a default certificate — when ip is not a local
// workload, so an unknown destination fails the handshake.
type CertSource interface {
	CertificateForIP(ctx context.Context, ip netip.Addr) (*Certificate, error)
}

// CertSourceFunc adapts a function to CertSource.
type CertSourceFunc func(ctx context.Context, ip netip.Addr) (*Certificate, error)

func (f CertSourceFunc) CertificateForIP(ctx context.Context, ip netip.Addr) (*Certificate, error) {
	return f(ctx, ip)
}

func baseConfig() *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		NextProtos:       []string{ALPNHBONE},
		CurvePreferences: curvePreferences,
		// HBONE never resumes: every connection re-proves identity with
		// the certificate valid *now*.
		SessionTicketsDisabled: true,
	}
}

// ServerConfig is the inbound HBONE (:15008) configuration. There is no
// SNI; the certificate is chosen by the connection's local address, which
// for redirected traffic is the original destination pod IP. The client
// must present a certificate that v accepts for the client role; the
// handshake fails otherwise, and when ALPN did not settle on h2.
// After the handshake, PeerIdentity returns the verified client identity.
func ServerConfig(v *Verifier, certs CertSource) *tls.Config {
	cfg := baseConfig()
	cfg.ClientAuth = tls.RequireAnyClientCert // verified below, against live roots
	cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		ip, err := localIP(hello.Conn)
		if err != nil {
			return nil, err
		}
		c, err := certs.CertificateForIP(hello.Context(), ip)
		if err != nil {
			return nil, fmt.Errorf("identity: no certificate for local address %s: %w", ip, err)
		}
		if c == nil {
			return nil, fmt.Errorf("identity: no certificate for local address %s", ip)
		}
		return c.TLSCertificate(), nil
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.NegotiatedProtocol != ALPNHBONE {
			return refuse(ReasonBadProtocol, Identity{}, "ALPN %q, want %q", cs.NegotiatedProtocol, ALPNHBONE)
		}
		_, err := v.Verify(cs.PeerCertificates, UsageClient)
		return err
	}
	return cfg
}

// ClientConfig is the outbound HBONE configuration: it presents src (the
// source workload's SVID) and accepts the server only if its chain verifies
// against v and its identity is one of expected. An empty expected list
// refuses every server (fail closed). There is no SNI.
//
// InsecureSkipVerify only disables crypto/tls's hostname-based check, which
// cannot apply to SPIFFE certificates; VerifyConnection performs the whole
// chain, validity, usage, trust-domain and identity verification instead.
func ClientConfig(v *Verifier, src *Certificate, expected []Identity) *tls.Config {
	want := append([]Identity(nil), expected...)
	cfg := baseConfig()
	cfg.InsecureSkipVerify = true
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if src == nil {
			return nil, errors.New("identity: no source certificate")
		}
		return src.TLSCertificate(), nil
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.NegotiatedProtocol != ALPNHBONE {
			return refuse(ReasonBadProtocol, Identity{}, "ALPN %q, want %q", cs.NegotiatedProtocol, ALPNHBONE)
		}
		_, err := v.VerifyExpected(cs.PeerCertificates, UsageServer, want)
		return err
	}
	return cfg
}

// PeerIdentity returns the identity of the peer of a connection whose
// handshake used ServerConfig or ClientConfig; those refuse the handshake
// unless the peer passed the Verifier, so this only extracts the SAN. Do not
// call it on connections made with other configurations.
func PeerIdentity(cs tls.ConnectionState) (Identity, error) {
	if !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
		return Identity{}, refuse(ReasonNoCertificate, Identity{}, "no completed handshake with a peer certificate")
	}
	return identityFromLeaf(cs.PeerCertificates[0])
}

func localIP(c net.Conn) (netip.Addr, error) {
	if c == nil {
		return netip.Addr{}, errors.New("identity: handshake without a connection")
	}
	if ta, ok := c.LocalAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("identity: local address %q: %w", c.LocalAddr(), err)
	}
	return ap.Addr().Unmap(), nil
}
