package identity

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/structpb"
	pb "istio.io/api/security/v1alpha1"
)

// ImpersonatedIdentityKey is the IstioCertificateRequest metadata key under
// which a node proxy names the identity it requests (istio
// pkg/security.ImpersonatedIdentity; ztunnel src/identity/caclient.rs).
const ImpersonatedIdentityKey = "ImpersonatedIdentity"

// DefaultCAServerName is the name istiod's serving certificate carries.
const DefaultCAServerName = "istiod.istio-system.svc"

// CAClientOptions configures a CAClient.
type CAClientOptions struct {
	// Address is the CA's host:port.
	Address string
	// ServerName is verified against the CA's DNS SAN (DefaultCAServerName).
	ServerName string
	// Verifier holds the mesh roots: it authenticates the CA's serving
	// certificate and verifies every issued certificate before use.
	Verifier *Verifier
	// Credential is this proxy's own (bootstrap) certificate, presented to
	// the CA. It is called per connection, so it may rotate.
	Credential func() (*tls.Certificate, error)
	// TTL is the requested validity_duration (ztunnel default 24 h).
	TTL time.Duration
	// Impersonate sends ImpersonatedIdentity metadata, as a node proxy
	// requesting certificates for its pods' identities does.
	Impersonate bool
	// DialTimeout bounds connection establishment; CallTimeout bounds each
	// CreateCertificate call (including any connection wait).
	DialTimeout, CallTimeout time.Duration
	Logger                   *slog.Logger
}

// CAClient implements CertificateProvider against Istio's
// IstioCertificateService/CreateCertificate over gRPC+TLS.
type CAClient struct {
	opts CAClientOptions
	dial func() (*grpc.ClientConn, error)
	log  *slog.Logger

	mu        sync.Mutex
	conn      *grpc.ClientConn
	rpc       pb.IstioCertificateServiceClient
	presented []byte // DER of the leaf this conn's last handshake presented
	retiring  []*grpc.ClientConn
	closed    bool
}

var _ CertificateProvider = (*CAClient)(nil)

// NewCAClient builds the client. The connection is made lazily by the first
// Fetch; Close releases it.
func NewCAClient(opts CAClientOptions) (*CAClient, error) {
	if opts.Address == "" || opts.Verifier == nil || opts.Credential == nil {
		return nil, errors.New("identity: NewCAClient: Address, Verifier and Credential are required")
	}
	if opts.ServerName == "" {
		opts.ServerName = DefaultCAServerName
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &CAClient{opts: opts, log: log}
	tlsCfg := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: curvePreferences,
		ServerName:       opts.ServerName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cred, err := opts.Credential()
			if err == nil && len(cred.Certificate) > 0 {
				c.mu.Lock()
				c.presented = cred.Certificate[0]
				c.mu.Unlock()
			}
			return cred, err
		},
		// Roots are read per handshake so a rotated bundle applies to the
		// next connection; the name check stays crypto/tls's own.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyCAServer(opts.Verifier, opts.ServerName, cs)
		},
	}
	c.dial = func() (*grpc.ClientConn, error) {
		return grpc.NewClient("passthrough:///"+opts.Address,
			grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: opts.DialTimeout}),
		)
	}
	conn, err := c.dial()
	if err != nil {
		return nil, fmt.Errorf("identity: NewCAClient: %w", err)
	}
	c.conn, c.rpc = conn, pb.NewIstioCertificateServiceClient(conn)
	return c, nil
}

// client returns the stub to call. The CA authenticates a caller by the
// certificate of its TLS handshake and checks it on every call, and a gRPC
// connection handshakes once; so once the credential has been replaced
// (a renewed bootstrap certificate, see Bootstrap.Current), the connection
// that presented the old one is replaced too. Calls already on it finish
// within CallTimeout before it closes.
func (c *CAClient) client() (pb.IstioCertificateServiceClient, error) {
	cred, err := c.opts.Credential()
	if err != nil {
		return nil, fmt.Errorf("identity: CA client credential: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("identity: CA client closed")
	}
	if c.presented == nil || len(cred.Certificate) == 0 || bytes.Equal(c.presented, cred.Certificate[0]) {
		return c.rpc, nil
	}
	conn, err := c.dial()
	if err != nil {
		return nil, fmt.Errorf("identity: CA client: %w", err)
	}
	old := c.conn
	c.retiring = append(c.retiring, old)
	time.AfterFunc(c.opts.CallTimeout, func() { c.retire(old) })
	c.conn, c.rpc, c.presented = conn, pb.NewIstioCertificateServiceClient(conn), nil
	c.log.Info("CA connection replaced: the bootstrap credential was renewed")
	return c.rpc, nil
}

// verifyCAServer does what crypto/tls would do for ServerName, against the
// live bundle: chain to a mesh root, server usage, DNS name match.
func verifyCAServer(v *Verifier, name string, cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("identity: CA presented no certificate")
	}
	roots := x509.NewCertPool()
	for _, r := range v.Bundle().X509Authorities() {
		roots.AddCert(r)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName: name, Roots: roots, Intermediates: inter, CurrentTime: v.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("identity: CA server certificate: %w", err)
	}
	return nil
}

// Fetch generates a P-256 key and CSR locally, asks the CA for id and
// returns the verified result. The issued certificate must name exactly id
// and verify against the mesh roots; anything else is an error.
func (c *CAClient) Fetch(ctx context.Context, id Identity) (*Certificate, error) {
	csrPEM, key, err := NewCSR(id)
	if err != nil {
		return nil, err
	}
	req := &pb.IstioCertificateRequest{Csr: string(csrPEM), ValidityDuration: int64(c.opts.TTL / time.Second)}
	if c.opts.Impersonate {
		req.Metadata = &structpb.Struct{Fields: map[string]*structpb.Value{
			ImpersonatedIdentityKey: structpb.NewStringValue(id.String()),
		}}
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	rpc, err := c.client()
	if err != nil {
		return nil, err
	}
	resp, err := rpc.CreateCertificate(cctx, req)
	if err != nil {
		return nil, fmt.Errorf("identity: CreateCertificate for %s: %w", id, err)
	}
	chain, err := ParsePEMChain(resp.GetCertChain())
	if err != nil {
		return nil, err
	}
	cert, err := NewCertificate(key, chain)
	if err != nil {
		return nil, err
	}
	if cert.Identity != id {
		return nil, fmt.Errorf("identity: CA issued %s, requested %s", cert.Identity, id)
	}
	if _, err := c.opts.Verifier.Verify(append([]*x509.Certificate{cert.Leaf}, cert.Intermediates...), UsageServer); err != nil {
		return nil, fmt.Errorf("identity: issued certificate for %s: %w", id, err)
	}
	c.log.Debug("certificate fetched", "identity", id.String(), "not_after", cert.NotAfter())
	return cert, nil
}

// retire closes a replaced connection (once: Close may have got to it).
func (c *CAClient) retire(conn *grpc.ClientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.retiring {
		if r == conn {
			c.retiring = append(c.retiring[:i], c.retiring[i+1:]...)
			_ = conn.Close()
			return
		}
	}
}

// Close releases the connections.
func (c *CAClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, r := range c.retiring {
		_ = r.Close()
	}
	c.retiring = nil
	return c.conn.Close()
}
