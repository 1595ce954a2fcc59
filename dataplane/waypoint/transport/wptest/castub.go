package wptest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// WriteBootstrap writes a pod-bound bootstrap credential for id into dir,
// in identity.LoadBootstrap's layout (root file last, as istiod writes it).
func (m *Mesh) WriteBootstrap(tb testing.TB, dir string, id identity.Identity) {
	tb.Helper()
	c := m.Cert(tb, id)
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{identity.BootstrapCertFile, "CERTIFICATE", c.Leaf.Raw}, {identity.BootstrapKeyFile, "PRIVATE KEY", keyDER},
		{identity.BootstrapRootFile, "CERTIFICATE", m.Root.Raw}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// CA is a fake istiod certificate service: TLS with the
// istiod.istio-system.svc name, client certificates required, and it signs
// only the identity of the caller's own credential (a pod-bound bootstrap).
type CA struct {
	pb.UnimplementedIstioCertificateServiceServer
	Addr string
	m    *Mesh
}

// StartCA serves until the test ends.
func StartCA(tb testing.TB, m *Mesh) *CA {
	tb.Helper()
	serverCert := m.serverCert(tb, identity.DefaultCAServerName)
	pool := x509.NewCertPool()
	pool.AddCert(m.Root)
	creds := credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{serverCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{Addr: ln.Addr().String(), m: m}
	srv := grpc.NewServer(grpc.Creds(creds))
	pb.RegisterIstioCertificateServiceServer(srv, ca)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tb.Cleanup(func() { srv.Stop(); <-done })
	return ca
}

func (ca *CA) CreateCertificate(ctx context.Context, req *pb.IstioCertificateRequest) (*pb.IstioCertificateResponse, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 || len(ti.State.PeerCertificates[0].URIs) != 1 {
		return nil, status.Error(codes.Unauthenticated, "no client SPIFFE certificate")
	}
	caller := ti.State.PeerCertificates[0].URIs[0].String()
	blk, _ := pem.Decode([]byte(req.GetCsr()))
	if blk == nil {
		return nil, status.Error(codes.InvalidArgument, "csr is not PEM")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if len(csr.URIs) != 1 || csr.URIs[0].String() != caller {
		return nil, status.Errorf(codes.PermissionDenied, "caller %s may not request %v", caller, csr.URIs)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: serial, URIs: csr.URIs,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, ca.m.ca.cert, csr.PublicKey, ca.m.ca.key)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	enc := func(b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})) }
	return &pb.IstioCertificateResponse{CertChain: []string{enc(der), enc(ca.m.Root.Raw)}}, nil
}

// serverCert is a DNS-named serving certificate (istiod's).
func (m *Mesh) serverCert(tb testing.TB, dnsName string) tls.Certificate {
	tb.Helper()
	c, err := m.ca.issueDNS(dnsName)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
