package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	pb "istio.io/api/security/v1alpha1"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// podsOnNodes is an in-memory NodeAuthorizer that tests mutate at run time.
type podsOnNodes struct {
	mu   sync.Mutex
	pods map[string]map[identity.Identity]int // node → identity → pod count
}

var _ NodeAuthorizer = (*podsOnNodes)(nil)

func (p *podsOnNodes) IdentityOnNode(node string, id identity.Identity) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[node][id] > 0
}

func (p *podsOnNodes) set(node string, id identity.Identity, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pods == nil {
		p.pods = map[string]map[identity.Identity]int{}
	}
	if p.pods[node] == nil {
		p.pods[node] = map[identity.Identity]int{}
	}
	p.pods[node][id] = n
}

type fixture struct {
	ca    *CA
	authz *podsOnNodes
	srv   *Server
	addr  string
}

func startServer(t *testing.T, mut func(*ServerOptions)) *fixture {
	t.Helper()
	f := &fixture{ca: mustCA(t, func(o *Options) { o.Intermediate = true }), authz: &podsOnNodes{}}
	opts := DefaultServerOptions(f.ca, f.authz)
	if mut != nil {
		mut(&opts)
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f.srv, f.addr = srv, lis.Addr().String()
	return f
}

// bootstrapCred returns the node's bootstrap credential as a tls.Certificate.
func (f *fixture) bootstrapCred(t *testing.T, node string) *tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := f.ca.IssueBootstrap(node)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// workloadCred issues a workload certificate directly from the CA.
func (f *fixture) workloadCred(t *testing.T, id identity.Identity) *tls.Certificate {
	t.Helper()
	csr, key := csrFor(t)
	chain, err := f.ca.Sign(csr, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := identity.ParsePEMChain(chain)
	c, err := identity.NewCertificate(key, certs)
	if err != nil {
		t.Fatal(err)
	}
	return c.TLSCertificate()
}

// foreignCred is a certificate for a node-account SAN from an unrelated CA.
func foreignCred(t *testing.T) *tls.Certificate {
	t.Helper()
	other := mustCA(t, nil)
	csr, key := csrFor(t)
	chain, err := other.Sign(csr, other.NodeAccount(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := identity.ParsePEMChain(chain)
	c, _ := identity.NewCertificate(key, certs)
	return c.TLSCertificate()
}

// rawClient is a plain gRPC client, to drive the server with arbitrary requests.
func (f *fixture) rawClient(t *testing.T, cred *tls.Certificate) pb.IstioCertificateServiceClient {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Roots()[0])
	conn, err := grpc.NewClient("passthrough:///"+f.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: identity.DefaultCAServerName,
		Certificates: []tls.Certificate{*cred},
	})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewIstioCertificateServiceClient(conn)
}

func request(t *testing.T, impersonate string, ttl int64, csr []byte) *pb.IstioCertificateRequest {
	t.Helper()
	if csr == nil {
		csr, _ = csrFor(t, "spiffe://cluster.local/ns/kube-system/sa/admin")
	}
	r := &pb.IstioCertificateRequest{Csr: string(csr), ValidityDuration: ttl}
	if impersonate != "" {
		r.Metadata = &structpb.Struct{Fields: map[string]*structpb.Value{
			identity.ImpersonatedIdentityKey: structpb.NewStringValue(impersonate),
		}}
	}
	return r
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestNodeBoundIssuance is C6: only identities of pods on the caller's node,
// SAN from the authorization result, TTL capped, CSR verified.
func TestNodeBoundIssuance(t *testing.T) {
	f := startServer(t, nil)
	onNode := mustID(t, "spiffe://cluster.local/ns/shop/sa/cart")
	offNode := mustID(t, "spiffe://cluster.local/ns/shop/sa/pay")
	leaving := mustID(t, "spiffe://cluster.local/ns/shop/sa/old")
	f.authz.set("node-1", onNode, 2)
	f.authz.set("node-2", offNode, 1)
	f.authz.set("node-1", leaving, 1)

	node1 := f.rawClient(t, f.bootstrapCred(t, "node-1"))
	workload := f.rawClient(t, f.workloadCred(t, onNode))
	foreign := f.rawClient(t, foreignCred(t))
	forgotten := f.bootstrapCred(t, "node-3")
	f.ca.ForgetNode("node-3")
	stale := f.rawClient(t, forgotten)

	okCSR, _ := csrFor(t)
	block := []byte(strings.Replace(string(okCSR), "A", "B", 1))

	tests := []struct {
		name     string
		client   pb.IstioCertificateServiceClient
		before   func()
		req      *pb.IstioCertificateRequest
		wantCode codes.Code
		wantSAN  identity.Identity
	}{
		{name: "on-node SA granted", client: node1, req: request(t, onNode.String(), 3600, nil), wantSAN: onNode},
		{name: "off-node SA denied", client: node1, req: request(t, offNode.String(), 3600, nil), wantCode: codes.Unauthenticated},
		{name: "SA after its last local pod left denied", client: node1,
			before: func() { f.authz.set("node-1", leaving, 0) },
			req:    request(t, leaving.String(), 3600, nil), wantCode: codes.Unauthenticated},
		{name: "foreign trust domain denied", client: node1, req: request(t, "spiffe://evil.td/ns/shop/sa/cart", 3600, nil), wantCode: codes.Unauthenticated},
		{name: "malformed identity denied", client: node1, req: request(t, "spiffe://cluster.local/ns/shop/sa/*", 3600, nil), wantCode: codes.Unauthenticated},
		{name: "node account without impersonation gets itself", client: node1, req: request(t, "", 3600, nil), wantSAN: f.ca.NodeAccount()},
		{name: "workload gets its own identity", client: workload, req: request(t, "", 3600, nil), wantSAN: onNode},
		{name: "workload may not impersonate", client: workload, req: request(t, onNode.String(), 3600, nil), wantCode: codes.Unauthenticated},
		{name: "untrusted caller (foreign root)", client: foreign, req: request(t, "", 3600, nil), wantCode: codes.Unauthenticated},
		{name: "bootstrap of a forgotten node cannot impersonate", client: stale, req: request(t, onNode.String(), 3600, nil), wantCode: codes.Unauthenticated},
		{name: "TTL over cap", client: node1, req: request(t, onNode.String(), 24*3600+1, nil), wantCode: codes.InvalidArgument},
		{name: "huge TTL does not overflow", client: node1, req: request(t, onNode.String(), 1<<62, nil), wantCode: codes.InvalidArgument},
		{name: "huge negative TTL uses default", client: node1, req: request(t, onNode.String(), -1<<62, nil), wantSAN: onNode},
		{name: "bad CSR", client: node1, req: request(t, onNode.String(), 3600, block), wantCode: codes.InvalidArgument},
		{name: "garbage CSR", client: node1, req: request(t, onNode.String(), 3600, []byte("\x00garbage-----BEGIN CERTIFICATE REQUEST-----")), wantCode: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			resp, err := tt.client.CreateCertificate(callCtx(t), tt.req)
			if tt.wantCode != codes.OK {
				if status.Code(err) != tt.wantCode {
					t.Fatalf("code %v (%v), want %v", status.Code(err), err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			chain, err := identity.ParsePEMChain(resp.GetCertChain())
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetCertChain()) != 3 || !chain[len(chain)-1].Equal(f.ca.Roots()[0]) {
				t.Fatalf("chain of %d, root last expected", len(resp.GetCertChain()))
			}
			leaf := chain[0]
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != tt.wantSAN.String() || len(leaf.DNSNames) != 0 {
				t.Fatalf("SAN %v %v, want %s", leaf.URIs, leaf.DNSNames, tt.wantSAN)
			}
		})
	}
}

func TestAuthorizeReasons(t *testing.T) {
	f := startServer(t, nil)
	on := mustID(t, "spiffe://cluster.local/ns/a/sa/b")
	f.authz.set("n1", on, 1)
	node := f.ca.NodeAccount()
	tests := []struct {
		caller identity.Identity
		node   string
		req    string
		want   DenyReason
	}{
		{on, "", on.String(), DenyNotNodeAccount},
		{node, "", on.String(), DenyUnboundNode},
		{node, "n1", "spiffe://cluster.local/ns/a", DenyBadIdentity},
		{node, "n1", "cluster.local/ns/a/sa/b", DenyBadIdentity},
		{node, "n1", "spiffe://other/ns/a/sa/b", DenyForeignTrustDomain},
		{node, "n2", on.String(), DenyNotOnNode},
		{node, "n1", on.String(), ""},
	}
	for _, tt := range tests {
		got, err := f.srv.authorize(tt.caller, tt.node, tt.req)
		var de *DenyError
		switch {
		case tt.want == "" && (err != nil || got != on):
			t.Errorf("%v/%s/%s: got %v %v, want %s", tt.caller, tt.node, tt.req, got, err, on)
		case tt.want != "" && (!errors.As(err, &de) || de.Reason != tt.want):
			t.Errorf("%v/%s/%s: err %v, want %s", tt.caller, tt.node, tt.req, err, tt.want)
		}
	}
}

// TestRoundTripWithCAClient drives the server with identity.CAClient, the
// client ztunnel-equivalents use, over TLS on loopback.
func TestRoundTripWithCAClient(t *testing.T) {
	f := startServer(t, nil)
	id := mustID(t, "spiffe://cluster.local/ns/shop/sa/cart")
	f.authz.set("node-1", id, 1)
	v, err := identity.NewVerifier(f.ca.Bundle(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := f.bootstrapCred(t, "node-1")
	client, err := identity.NewCAClient(identity.CAClientOptions{
		Address: f.addr, Verifier: v, Impersonate: true, TTL: time.Hour,
		Credential: func() (*tls.Certificate, error) { return cred, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cert, err := client.Fetch(callCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Identity != id || cert.Lifetime() != time.Hour || len(cert.Intermediates) != 1 || len(cert.Roots) != 1 {
		t.Fatalf("got %s lifetime %s, %d intermediates, %d roots", cert.Identity, cert.Lifetime(), len(cert.Intermediates), len(cert.Roots))
	}
	other := mustID(t, "spiffe://cluster.local/ns/shop/sa/pay")
	if _, err := client.Fetch(callCtx(t), other); status.Code(errors.Unwrap(err)) != codes.Unauthenticated {
		t.Fatalf("off-node fetch: %v", err)
	}

	// A client that trusts another root refuses the CA itself.
	otherV, _ := identity.NewVerifier(mustCA(t, nil).Bundle(), nil)
	bad, err := identity.NewCAClient(identity.CAClientOptions{
		Address: f.addr, Verifier: otherV, Impersonate: true, CallTimeout: 2 * time.Second,
		Credential: func() (*tls.Certificate, error) { return cred, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Fetch(callCtx(t), id); status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Fatalf("fetch from an untrusted CA: %v", err)
	}
}

// TestAbuse is C7: a 10 MB request is refused quickly and 200 concurrent
// requests are each either served or cleanly refused.
func TestAbuse(t *testing.T) {
	f := startServer(t, func(o *ServerOptions) { o.MaxConcurrentRequests = 8; o.QueueTimeout = 5 * time.Second })
	id := mustID(t, "spiffe://cluster.local/ns/a/sa/b")
	f.authz.set("n1", id, 1)
	client := f.rawClient(t, f.bootstrapCred(t, "n1"))

	huge := make([]byte, 10<<20)
	for i := range huge {
		huge[i] = 'A'
	}
	_, err := client.CreateCertificate(callCtx(t), request(t, id.String(), 3600, huge))
	if c := status.Code(err); c != codes.ResourceExhausted {
		t.Fatalf("10 MB request: %v, want ResourceExhausted", err)
	}
	// Just under the gRPC limit but over the CSR limit: InvalidArgument.
	_, err = client.CreateCertificate(callCtx(t), request(t, id.String(), 3600, huge[:66<<10]))
	if c := status.Code(err); c != codes.InvalidArgument && c != codes.ResourceExhausted {
		t.Fatalf("66 KiB CSR: %v", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[codes.Code]int{}
	for range 200 {
		wg.Go(func() {
			_, err := client.CreateCertificate(callCtx(t), request(t, id.String(), 3600, nil))
			mu.Lock()
			counts[status.Code(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[codes.OK]+counts[codes.ResourceExhausted] != 200 || counts[codes.OK] == 0 {
		t.Fatalf("200 concurrent requests: %v", counts)
	}
	t.Logf("200 concurrent: %v", counts)
}

func TestNoClientCertificateFailsHandshake(t *testing.T) {
	f := startServer(t, nil)
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Roots()[0])
	conn, err := tls.Dial("tcp", f.addr, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: identity.DefaultCAServerName, NextProtos: []string{"h2"}})
	if err == nil {
		// TLS 1.3 reports the client-cert refusal on first read.
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("connection without a client certificate was accepted")
	}
	// TLS 1.2 is refused.
	_, err = tls.Dial("tcp", f.addr, &tls.Config{MaxVersion: tls.VersionTLS12, RootCAs: pool, ServerName: identity.DefaultCAServerName})
	if err == nil {
		t.Fatal("TLS 1.2 accepted")
	}
}
