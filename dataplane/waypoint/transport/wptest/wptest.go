// Package wptest is the waypoint's test mesh: a throwaway CA with SPIFFE
// verification through dataplane/identity, fake destination ztunnels (real
// HBONE servers that record what they were asked and relay to real
// backends), an HTTP/1.1 + h2c echo backend, and a client "ztunnel" that
// CONNECTs to a waypoint. For tests only.
package wptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Mesh is one trust domain's CA and verifier.
type Mesh struct {
	TrustDomain string
	// Root is the CA certificate (the mesh root bundle).
	Root     *x509.Certificate
	Verifier *identity.Verifier
	ca       *ca
}

// NewMesh creates a CA for cluster.local.
func NewMesh(tb testing.TB) *Mesh {
	tb.Helper()
	c, err := newCA("cluster.local")
	if err != nil {
		tb.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString(c.trustDomain)
	v, err := identity.NewVerifier(x509bundle.FromX509Authorities(td, []*x509.Certificate{c.cert}), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Mesh{TrustDomain: c.trustDomain, Root: c.cert, Verifier: v, ca: c}
}

// ID is spiffe://cluster.local/ns/<ns>/sa/<sa>.
func (m *Mesh) ID(ns, sa string) identity.Identity {
	return identity.Identity{TrustDomain: m.TrustDomain, Namespace: ns, ServiceAccount: sa}
}

// Cert issues an SVID for id.
func (m *Mesh) Cert(tb testing.TB, id identity.Identity) *identity.Certificate {
	tb.Helper()
	c, err := m.ca.issue(id)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ServerTLS is an HBONE server config presenting cert.
func (m *Mesh) ServerTLS(cert *identity.Certificate) *tls.Config {
	return identity.ServerConfig(m.Verifier, identity.CertSourceFunc(func(context.Context, netip.Addr) (*identity.Certificate, error) {
		return cert, nil
	}))
}

// Connect is one CONNECT a fake destination ztunnel accepted.
type Connect struct {
	Authority string
	Peer      identity.Identity
}

// Pod is a fake destination ztunnel for one pod IP: it accepts CONNECTs for
// <pod IP>:<port> and relays them to the backend routed for that port.
type Pod struct {
	IP     netip.Addr
	Addr   string // the HBONE listener's real address
	mu     sync.Mutex
	routes map[uint16]string
	seen   []Connect
}

// StartPod serves HBONE for ip with id's certificate until the test ends.
func StartPod(tb testing.TB, m *Mesh, ip netip.Addr, id identity.Identity) *Pod {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Pod{IP: ip, Addr: ln.Addr().String(), routes: map[uint16]string{}}
	srv := &hbone.Server{Handler: p.handle, Authority: hbone.AuthorityAnyIP}
	serve(tb, func(ctx context.Context) { _ = srv.Serve(ctx, ln, m.ServerTLS(m.Cert(tb, id))) })
	return p
}

// Route relays CONNECTs for port to addr.
func (p *Pod) Route(port uint16, addr string) {
	p.mu.Lock()
	p.routes[port] = addr
	p.mu.Unlock()
}

// Seen returns the CONNECTs accepted so far.
func (p *Pod) Seen() []Connect {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Connect(nil), p.seen...)
}

func (p *Pod) handle(ctx context.Context, ss *hbone.ServerStream) {
	a := ss.Authority()
	if a.IP != p.IP {
		_ = ss.Reject(http.StatusBadRequest, "ip mismatch")
		return
	}
	peer, err := identity.PeerIdentity(ss.ConnectionState())
	if err != nil {
		_ = ss.Reject(http.StatusUnauthorized, err.Error())
		return
	}
	p.mu.Lock()
	p.seen = append(p.seen, Connect{Authority: a.String(), Peer: peer})
	addr, ok := p.routes[a.Port]
	p.mu.Unlock()
	if !ok {
		_ = ss.Reject(http.StatusServiceUnavailable, "nothing listens")
		return
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		_ = ss.Reject(http.StatusServiceUnavailable, err.Error())
		return
	}
	s, err := ss.Accept()
	if err != nil {
		_ = up.Close()
		return
	}
	_, _, _ = hbone.Copy(ctx, s, up.(*net.TCPConn))
}

// Redirect is the capture analogue: dials to <pod IP>:<any port> go to that
// pod's fake ztunnel.
func Redirect(pods ...*Pod) func(ctx context.Context, network, addr string) (net.Conn, error) {
	byIP := map[netip.Addr]string{}
	for _, p := range pods {
		byIP[p.IP] = p.Addr
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		real, ok := byIP[ap.Addr()]
		if !ok {
			return nil, errors.New("wptest: no pod at " + addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, real)
	}
}

// Echo is what the backend answers: the request as it arrived.
type Echo struct {
	Proto  string
	Method string
	Host   string
	URI    string
	Header http.Header
	Body   string
}

// StartBackend serves HTTP/1.1 and h2c (prior knowledge) on loopback and
// answers every request with its Echo as JSON, after ?delay=<duration> (at
// most 10 s) when asked.
func StartBackend(tb testing.TB) *Backend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	be := &Backend{Addr: ln.Addr().String()}
	srv := &http.Server{Protocols: &protos, ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			be.InFlight.Add(1)
			defer be.InFlight.Add(-1)
			if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d > 0 && d <= 10*time.Second {
				time.Sleep(d) // a slow backend, for drain tests
			}
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(Echo{Proto: r.Proto, Method: r.Method, Host: r.Host, URI: r.RequestURI,
				Header: r.Header, Body: string(body)})
		})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close(); <-done })
	return be
}

// Backend is a running echo backend.
type Backend struct {
	Addr string
	// InFlight counts requests being handled.
	InFlight atomic.Int64
}

// serve runs fn until the test ends, then cancels it and waits.
func serve(tb testing.TB, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
}
