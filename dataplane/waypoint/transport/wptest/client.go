package wptest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Client is a client pod's ztunnel: it CONNECTs to a waypoint from the
// client pod's IP with the client's SVID, as ztunnel's outbound does.
type Client struct {
	Dialer   *hbone.Dialer
	Waypoint netip.AddrPort // the waypoint's HBONE listener
	SourceIP netip.Addr
}

// NewClient dials from srcIP (a loopback address) as id, expecting the
// waypoint to be want.
func NewClient(tb testing.TB, m *Mesh, id identity.Identity, srcIP netip.Addr, waypoint netip.AddrPort, want identity.Identity) *Client {
	tb.Helper()
	cert := m.Cert(tb, id)
	d := &hbone.Dialer{
		TLSConfig: func(hbone.PoolKey) (*tls.Config, error) {
			return identity.ClientConfig(m.Verifier, cert, []identity.Identity{want}), nil
		},
		DialContext: (&net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(srcIP, 0))}).DialContext,
	}
	tb.Cleanup(func() { _ = d.Close() })
	return &Client{Dialer: d, Waypoint: waypoint, SourceIP: srcIP}
}

// Connect opens a CONNECT for authority with ztunnel's Forwarded header.
func (c *Client) Connect(ctx context.Context, authority string) (*hbone.Stream, error) {
	return c.Dialer.Connect(ctx, hbone.Request{
		Target: c.Waypoint, Authority: authority,
		Header: http.Header{"Forwarded": {hbone.ForwardedFor(netip.AddrPortFrom(c.SourceIP, 40000), "")}},
	})
}

// HTTP is an http.Client whose every connection is a CONNECT for authority;
// h2 speaks h2c prior knowledge instead of HTTP/1.1.
func (c *Client) HTTP(authority string, h2 bool) *http.Client {
	var p http.Protocols
	if h2 {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	return &http.Client{Transport: &http.Transport{
		Protocols: &p,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.Connect(ctx, authority)
		},
	}}
}
