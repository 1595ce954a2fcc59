package ca

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	istiohbone "istio.io/istio/pkg/hbone"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Interop with istio.io/istio's own Go HBONE implementation (pkg/hbone),
// both ways, where every certificate is issued by this CA through
// IstioCertificateService (node bootstrap → impersonated workload SVIDs), and
// each side verifies the other with the dataplane/identity SPIFFE configs.

type interopFixture struct {
	verifier      *identity.Verifier
	srcID, dstID  identity.Identity
	srcCert, dst  *identity.Certificate
	echo          net.Listener
	echoWG        sync.WaitGroup
	serverTLS     *tls.Config
	clientTLSFunc func(expected identity.Identity) *tls.Config
}

func newInteropFixture(t *testing.T) *interopFixture {
	t.Helper()
	f := startServer(t, nil)
	src := mustID(t, "spiffe://cluster.local/ns/ambient-demo/sa/sleep")
	dst := mustID(t, "spiffe://cluster.local/ns/ambient-demo/sa/httpbin")
	f.authz.set("node-0", src, 1)
	f.authz.set("node-0", dst, 1)
	v, err := identity.NewVerifier(f.ca.Bundle(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := f.bootstrapCred(t, "node-0")
	client, err := identity.NewCAClient(identity.CAClientOptions{
		Address: f.addr, Verifier: v, Impersonate: true,
		Credential: func() (*tls.Certificate, error) { return cred, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srcCert, err := client.Fetch(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	dstCert, err := client.Fetch(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x := &interopFixture{verifier: v, srcID: src, dstID: dst, srcCert: srcCert, dst: dstCert, echo: echo}
	x.echoWG.Add(1)
	go func() {
		defer x.echoWG.Done()
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			x.echoWG.Add(1)
			go func() {
				defer x.echoWG.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { echo.Close(); x.echoWG.Wait() })
	x.serverTLS = hbone.EnforceTLS(identity.ServerConfig(v, identity.CertSourceFunc(func(context.Context, netip.Addr) (*identity.Certificate, error) {
		return dstCert, nil // the destination pod at 127.0.0.1 runs as httpbin
	})))
	x.clientTLSFunc = func(expected identity.Identity) *tls.Config {
		return hbone.EnforceTLS(identity.ClientConfig(v, srcCert, []identity.Identity{expected}))
	}
	return x
}

func roundTrip(t *testing.T, c io.ReadWriter, msg []byte) {
	t.Helper()
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo mismatch")
	}
}

func TestInteropIstioHBONEDialerWithCAIssuedCertToOurServer(t *testing.T) {
	x := newInteropFixture(t)
	seen := make(chan identity.Identity, 1)
	srv := &hbone.Server{Handler: func(ctx context.Context, ss *hbone.ServerStream) {
		id, _ := identity.PeerIdentity(ss.ConnectionState())
		seen <- id
		up, err := net.Dial("tcp", ss.Authority().String())
		if err != nil {
			_ = ss.Reject(503, err.Error())
			return
		}
		s, err := ss.Accept()
		if err != nil {
			up.Close()
			return
		}
		_, _, _ = hbone.Copy(ctx, s, up.(*net.TCPConn))
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln, x.serverTLS) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })

	d := istiohbone.NewDialer(istiohbone.Config{ProxyAddress: ln.Addr().String(), TLS: x.clientTLSFunc(x.dstID)})
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	c, err := d.DialContext(dctx, "tcp", x.echo.Addr().String())
	if err != nil {
		t.Fatalf("istio dialer → our HBONE server: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	roundTrip(t, c, bytes.Repeat([]byte("istio->ours "), 5000))
	if got := <-seen; got != x.srcID {
		t.Fatalf("our server verified the istio client as %s, want %s", got, x.srcID)
	}

	// A client expecting another identity refuses our server's CA-issued cert.
	wrong := istiohbone.NewDialer(istiohbone.Config{ProxyAddress: ln.Addr().String(), TLS: x.clientTLSFunc(x.srcID)})
	if c, err := wrong.DialContext(dctx, "tcp", x.echo.Addr().String()); err == nil {
		c.Close()
		t.Fatal("a client expecting the wrong destination identity connected")
	}
}

func TestInteropOurHBONEDialerWithCAIssuedCertToIstioServer(t *testing.T) {
	x := newInteropFixture(t)
	srv := istiohbone.NewServer()
	srv.TLSConfig = x.serverTLS
	srv.Protocols.SetHTTP2(true)
	srv.ReadHeaderTimeout = 5 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("istio server: %v", err)
		}
	}()
	d := &hbone.Dialer{TLSConfig: func(hbone.PoolKey) (*tls.Config, error) { return x.clientTLSFunc(x.dstID), nil }}
	t.Cleanup(func() { d.Close(); srv.Close(); wg.Wait() })
	echoAddr := x.echo.Addr().(*net.TCPAddr).AddrPort()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := d.Connect(ctx, hbone.Request{
		Target:    ln.Addr().(*net.TCPAddr).AddrPort(),
		Authority: echoAddr.String(),
		Key:       hbone.PoolKey{SrcIdentity: x.srcID.String(), DstIdentity: x.dstID.String(), DstIP: echoAddr.Addr()},
	})
	if err != nil {
		t.Fatalf("our dialer → istio HBONE server: %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte("ours->istio "), 5000)
	go func() { _, _ = s.Write(msg); _ = s.CloseWrite() }()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through istio's server: %d bytes, err %v", len(got), err)
	}
	if id, _ := identity.PeerIdentity(s.ConnectionState()); id != x.dstID {
		t.Fatalf("istio server presented %s, want %s", id, x.dstID)
	}
}
