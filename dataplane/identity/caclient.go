package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
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
	conn *grpc.ClientConn
	rpc  pb.IstioCertificateServiceClient
	log  *slog.Logger
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
	tlsCfg := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: curvePreferences,
		ServerName:       opts.ServerName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return opts.Credential()
		},
		// Roots are read per handshake so a rotated bundle applies to the
		// next connection; the name check stays crypto/tls's own.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyCAServer(opts.Verifier, opts.ServerName, cs)
		},
	}
	conn, err := grpc.NewClient("passthrough:///"+opts.Address,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: opts.DialTimeout}),
	)
	if err != nil {
		return nil, fmt.Errorf("identity: NewCAClient: %w", err)
	}
	return &CAClient{opts: opts, conn: conn, rpc: pb.NewIstioCertificateServiceClient(conn), log: log}, nil
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
	resp, err := c.rpc.CreateCertificate(cctx, req)
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

// Close releases the connection.
func (c *CAClient) Close() error { return c.conn.Close() }
