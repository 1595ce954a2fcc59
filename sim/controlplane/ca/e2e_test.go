package ca

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// TestManagerOverGRPCThenHBONEHandshake wires the pieces a node uses: a
// Manager fetching through CAClient from this CA, and the HBONE TLS configs
// accepting what it issued.
func TestManagerOverGRPCThenHBONEHandshake(t *testing.T) {
	f := startServer(t, nil)
	src := mustID(t, "spiffe://cluster.local/ns/shop/sa/cart")
	dst := mustID(t, "spiffe://cluster.local/ns/shop/sa/pay")
	f.authz.set("node-1", src, 1)
	f.authz.set("node-1", dst, 1)
	v, _ := identity.NewVerifier(f.ca.Bundle(), nil)
	cred := f.bootstrapCred(t, "node-1")
	client, err := identity.NewCAClient(identity.CAClientOptions{
		Address: f.addr, Verifier: v, Impersonate: true,
		Credential: func() (*tls.Certificate, error) { return cred, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	m, err := identity.NewManager(identity.DefaultManagerOptions(client, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srcCert, err := m.Certificate(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if srcCert.Lifetime() != 24*time.Hour {
		t.Fatalf("lifetime %s", srcCert.Lifetime())
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	serverCfg := identity.ServerConfig(v, identity.CertSourceFunc(func(ctx context.Context, ip netip.Addr) (*identity.Certificate, error) {
		return m.Certificate(ctx, dst) // the pod at 127.0.0.1 runs as pay
	}))
	peer := make(chan identity.Identity, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			peer <- identity.Identity{}
			return
		}
		defer c.Close()
		tc := tls.Server(c, serverCfg)
		if err := tc.Handshake(); err != nil {
			peer <- identity.Identity{}
			return
		}
		id, _ := identity.PeerIdentity(tc.ConnectionState())
		_, _ = tc.Write([]byte{1})
		peer <- id
	}()
	d := tls.Dialer{Config: identity.ClientConfig(v, srcCert, []identity.Identity{dst})}
	c, err := d.DialContext(ctx, "tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := identity.PeerIdentity(c.(*tls.Conn).ConnectionState()); got != dst {
		t.Fatalf("client saw %s", got)
	}
	if got := <-peer; got != src {
		t.Fatalf("server saw %s", got)
	}
}
