package identity

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// hboneServer accepts TLS on lis with ServerConfig and reports, per
// connection, the verified client identity or the handshake error.
type hboneServer struct {
	lis     net.Listener
	results chan handshakeResult
	wg      sync.WaitGroup
}

type handshakeResult struct {
	peer Identity
	err  error
}

func startHBONE(t testing.TB, addr string, cfg *tls.Config) *hboneServer {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := &hboneServer{lis: lis, results: make(chan handshakeResult, 1024)}
	s.wg.Add(1)
	go s.run(cfg)
	t.Cleanup(func() { lis.Close(); s.wg.Wait() })
	return s
}

func (s *hboneServer) run(cfg *tls.Config) {
	defer s.wg.Done()
	for {
		c, err := s.lis.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			tc := tls.Server(c, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := tc.HandshakeContext(ctx)
			var r handshakeResult
			if err != nil {
				r.err = err
			} else {
				r.peer, r.err = PeerIdentity(tc.ConnectionState())
				// One byte tells the client the server accepted it
				// (TLS 1.3 client-auth failures surface after the
				// client's handshake returns).
				_, _ = tc.Write([]byte{1})
			}
			select {
			case s.results <- r:
			default:
			}
		}()
	}
}

func dialHBONE(addr string, cfg *tls.Config) (Identity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Identity{}, err
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		return Identity{}, fmt.Errorf("server refused: %w", err)
	}
	return PeerIdentity(tc.ConnectionState())
}

type meshFixture struct {
	pki          *testPKI
	v            *Verifier
	a, b, client Identity
	certs        map[netip.Addr]*Certificate
	clientCert   *Certificate
	addrA, addrB string
	srvA, srvB   *hboneServer
}

func newMeshFixture(t testing.TB) *meshFixture {
	t.Helper()
	f := &meshFixture{pki: newPKI(t, "cluster.local", time.Now())}
	f.v, _ = NewVerifier(f.pki.bundle(), nil)
	f.a, _ = Parse("spiffe://cluster.local/ns/shop/sa/a")
	f.b, _ = Parse("spiffe://cluster.local/ns/shop/sa/b")
	f.client, _ = Parse("spiffe://cluster.local/ns/shop/sa/client")
	f.certs = map[netip.Addr]*Certificate{
		netip.MustParseAddr("127.0.0.2"): f.pki.certificate(t, f.a),
		netip.MustParseAddr("127.0.0.3"): f.pki.certificate(t, f.b),
	}
	f.clientCert = f.pki.certificate(t, f.client)
	src := CertSourceFunc(func(_ context.Context, ip netip.Addr) (*Certificate, error) {
		if c, ok := f.certs[ip]; ok {
			return c, nil
		}
		return nil, errors.New("not a local workload")
	})
	cfg := ServerConfig(f.v, src)
	f.srvA = startHBONE(t, "127.0.0.2:0", cfg)
	f.srvB = startHBONE(t, "127.0.0.3:0", cfg)
	f.addrA, f.addrB = f.srvA.lis.Addr().String(), f.srvB.lis.Addr().String()
	return f
}

// TestServerPicksCertificateByLocalIP: no SNI; each listener address
// presents its own workload's identity, and the server sees the client's.
func TestServerPicksCertificateByLocalIP(t *testing.T) {
	f := newMeshFixture(t)
	for _, tt := range []struct {
		addr string
		srv  *hboneServer
		want Identity
	}{{f.addrA, f.srvA, f.a}, {f.addrB, f.srvB, f.b}} {
		got, err := dialHBONE(tt.addr, ClientConfig(f.v, f.clientCert, []Identity{tt.want}))
		if err != nil || got != tt.want {
			t.Fatalf("dial %s: peer %v err %v, want %s", tt.addr, got, err, tt.want)
		}
		r := <-tt.srv.results
		if r.err != nil || r.peer != f.client {
			t.Fatalf("server at %s saw %v err %v, want %s", tt.addr, r.peer, r.err, f.client)
		}
	}
}

// TestClientRejectsWrongServerIdentity is H10: a valid certificate for the
// wrong service account aborts the handshake on the client.
func TestClientRejectsWrongServerIdentity(t *testing.T) {
	f := newMeshFixture(t)
	for _, expected := range [][]Identity{{f.b}, nil} {
		_, err := dialHBONE(f.addrA, ClientConfig(f.v, f.clientCert, expected))
		if ReasonOf(err) != ReasonIdentityMismatch {
			t.Fatalf("expected %v: err %v, want identity-mismatch", expected, err)
		}
		if r := <-f.srvA.results; r.err == nil {
			t.Fatal("server completed a handshake the client aborted")
		}
	}
}

// TestHandshakeRefusals is C5 plus the server side of C1: a server refuses
// clients that do not speak TLS 1.3 + h2 or do not prove a mesh identity.
func TestHandshakeRefusals(t *testing.T) {
	f := newMeshFixture(t)
	foreign := newPKI(t, "cluster.local", time.Now())
	foreignClient := foreign.certificate(t, f.client)
	good := func() *tls.Config { return ClientConfig(f.v, f.clientCert, []Identity{f.a}) }
	tests := []struct {
		name string
		cfg  func() *tls.Config
	}{
		{"TLS 1.2 only", func() *tls.Config {
			c := good()
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}},
		{"no ALPN", func() *tls.Config { c := good(); c.NextProtos = nil; return c }},
		{"ALPN http/1.1", func() *tls.Config { c := good(); c.NextProtos = []string{"http/1.1"}; return c }},
		{"no client certificate", func() *tls.Config {
			c := good()
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
			return c
		}},
		{"client certificate from a foreign root", func() *tls.Config { return ClientConfig(f.v, foreignClient, []Identity{f.a}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dialHBONE(f.addrA, tt.cfg()); err == nil {
				t.Fatal("handshake succeeded")
			}
			if r := <-f.srvA.results; r.err == nil {
				t.Fatalf("server accepted peer %s", r.peer)
			}
		})
	}
	// Positive twin on the same server.
	if _, err := dialHBONE(f.addrA, good()); err != nil {
		t.Fatalf("good client refused: %v", err)
	}
	if r := <-f.srvA.results; r.err != nil {
		t.Fatal(r.err)
	}
}

// TestUnknownLocalAddressFailsClosed: a connection to an address with no
// local workload gets no certificate at all.
func TestUnknownLocalAddressFailsClosed(t *testing.T) {
	f := newMeshFixture(t)
	srv := startHBONE(t, "127.0.0.4:0", ServerConfig(f.v, CertSourceFunc(func(context.Context, netip.Addr) (*Certificate, error) {
		return nil, nil
	})))
	if _, err := dialHBONE(srv.lis.Addr().String(), ClientConfig(f.v, f.clientCert, []Identity{f.a})); err == nil {
		t.Fatal("handshake without a server certificate succeeded")
	}
	if r := <-srv.results; r.err == nil {
		t.Fatal("server side succeeded")
	}
}

func TestConfigsArePinned(t *testing.T) {
	f := newMeshFixture(t)
	for _, c := range []*tls.Config{ServerConfig(f.v, nil), ClientConfig(f.v, f.clientCert, nil)} {
		if c.MinVersion != tls.VersionTLS13 || len(c.NextProtos) != 1 || c.NextProtos[0] != "h2" || c.CurvePreferences[0] != tls.X25519 || c.ServerName != "" {
			t.Fatalf("config not pinned: %+v", c)
		}
	}
}

func BenchmarkHandshake(b *testing.B) {
	f := newMeshFixture(b)
	cfg := ClientConfig(f.v, f.clientCert, []Identity{f.a})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dialHBONE(f.addrA, cfg); err != nil {
			b.Fatal(err)
		}
		<-f.srvA.results
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}
