package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// Upstream originates the waypoint's traffic to destination pods: an
// http.RoundTripper for L7 and Dial for L4. It is safe for concurrent use.
type Upstream struct {
	// State returns the current workload API snapshot; required.
	State func() *workloadapi.Snapshot
	// Dialer opens HBONE streams; its TLSConfig must present Source's SVID
	// and expect PoolKey.DstIdentity. Required.
	Dialer *hbone.Dialer
	// Source is the waypoint's own identity (the pool key's source).
	Source identity.Identity
	// HBONEPort is the destination ztunnel's port (default 15008).
	HBONEPort uint16
	// DialPlain reaches workloads that do not speak HBONE; nil means a
	// net.Dialer.
	DialPlain func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds one endpoint connect (default 10 s, ztunnel's).
	ConnectTimeout time.Duration
	// FailureHold is how long an endpoint whose connect failed is avoided
	// while others are available (default 5 s).
	FailureHold time.Duration
	// Intn picks an index in [0, n); nil means math/rand/v2.
	Intn func(n int) int
	Log  *slog.Logger

	once   sync.Once
	h1, h2 *http.Transport
	direct *h1Client
	mu     sync.Mutex
	failed map[netip.AddrPort]time.Time
}

// ConnectError is a failure to open the connection to one endpoint; nothing
// of the request was sent, so another endpoint may be tried.
type ConnectError struct {
	Endpoint netip.AddrPort
	Workload string
	Err      error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("waypoint: connect to %s (%s): %v", e.Endpoint, e.Workload, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Err }

func (u *Upstream) init() {
	u.once.Do(func() {
		if u.HBONEPort == 0 {
			u.HBONEPort = 15008
		}
		if u.ConnectTimeout <= 0 {
			u.ConnectTimeout = 10 * time.Second
		}
		if u.FailureHold <= 0 {
			u.FailureHold = 5 * time.Second
		}
		if u.Intn == nil {
			u.Intn = rand.IntN
		}
		if u.Log == nil {
			u.Log = slog.New(slog.DiscardHandler)
		}
		if u.DialPlain == nil {
			u.DialPlain = (&net.Dialer{}).DialContext
		}
		u.failed = map[netip.AddrPort]time.Time{}
		newTransport := func(p *http.Protocols) *http.Transport {
			return &http.Transport{
				// URL.Host is always an endpoint address, so the pool is
				// per endpoint; the dial turns it into an HBONE stream.
				DialContext:         u.dialEndpoint,
				Protocols:           p,
				DisableCompression:  true, // a proxy forwards bytes, it never re-encodes
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
			}
		}
		var p1, p2 http.Protocols
		p1.SetHTTP1(true)
		p2.SetUnencryptedHTTP2(true)
		u.h1, u.h2 = newTransport(&p1), newTransport(&p2)
		u.direct = &h1Client{dial: u.dialEndpoint, maxIdle: 64, idleTimeout: 90 * time.Second}
	})
}

// CloseIdleConnections releases pooled connections (drain, tests).
func (u *Upstream) CloseIdleConnections() {
	u.init()
	u.h1.CloseIdleConnections()
	u.h2.CloseIdleConnections()
	u.direct.closeIdle()
}

// RoundTrip sends req to one endpoint of URL.Host, the backend VIP:port
// (or pod IP:port) the waypoint's router chose — never the Host header.
// Failures say what the forwarder needs: ErrNoHealthyUpstream (wrapping
// waypoint.ErrNoHealthyUpstream) when no endpoint exists, and
// FlagUpstreamConnectionFailure on the request's Record when every endpoint
// tried failed to connect.
func (u *Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.init()
	rec := waypoint.RecordFromContext(req.Context())
	dst, err := netip.ParseAddrPort(req.URL.Host)
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("waypoint: upstream request URL host %q is not ip:port", req.URL.Host)
	}
	tgt, err := Resolve(u.State(), dst)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	var t interface {
		RoundTrip(*http.Request) (*http.Response, error)
	} = u.h1
	switch {
	case tgt.HTTP2():
		t = u.h2
	case directEligible(req):
		t = directRoundTripper{u.direct}
	}
	tried := make(map[netip.AddrPort]bool, 1)
	for {
		ep, ok := u.pick(tgt.Endpoints, tried)
		if !ok {
			closeBody(req)
			if err == nil {
				err = fmt.Errorf("%w: every endpoint of %s failed", ErrNoHealthyUpstream, dst)
			}
			if rec != nil {
				rec.AddFlags(waypoint.FlagUpstreamConnectionFailure)
			}
			return nil, err
		}
		tried[ep.Addr] = true
		if rec != nil {
			rec.SetUpstream(ep.Addr, ep.Workload.Identity().String())
		}
		var resp *http.Response
		resp, err = t.RoundTrip(endpointRequest(req, ep.Addr))
		if err == nil {
			return resp, nil
		}
		var ce *ConnectError
		if !errors.As(err, &ce) || !replayable(req) {
			if ce != nil && rec != nil {
				rec.AddFlags(waypoint.FlagUpstreamConnectionFailure)
			}
			return nil, err
		}
		u.Log.Debug("waypoint: endpoint connect failed, trying another", "endpoint", ep.Addr.String(), "error", err)
	}
}

// endpointRequest is a shallow copy addressed to ep. net/http adds a
// User-Agent to requests without one; an empty entry stops that, so the
// upstream sees the client's headers only.
func endpointRequest(req *http.Request, ep netip.AddrPort) *http.Request {
	out := new(http.Request)
	*out = *req
	u := *req.URL
	u.Host = ep.String()
	out.URL = &u
	if _, ok := req.Header["User-Agent"]; !ok {
		out.Header = req.Header.Clone()
		if out.Header == nil {
			out.Header = http.Header{}
		}
		out.Header["User-Agent"] = []string{""}
	}
	return out
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// pick chooses uniformly among the endpoints not yet tried, preferring ones
// without a recent connect failure.
func (u *Upstream) pick(eps []Endpoint, tried map[netip.AddrPort]bool) (Endpoint, bool) {
	now := time.Now()
	var fresh, stale []Endpoint
	u.mu.Lock()
	for _, ep := range eps {
		if tried[ep.Addr] {
			continue
		}
		if at, bad := u.failed[ep.Addr]; bad && now.Sub(at) < u.FailureHold {
			stale = append(stale, ep)
		} else {
			fresh = append(fresh, ep)
		}
	}
	u.mu.Unlock()
	if len(fresh) == 0 {
		fresh = stale
	}
	if len(fresh) == 0 {
		return Endpoint{}, false
	}
	return fresh[u.Intn(len(fresh))], true
}

func (u *Upstream) noteFailure(ep netip.AddrPort, failed bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if failed {
		u.failed[ep] = time.Now()
		return
	}
	delete(u.failed, ep)
}

// dialEndpoint is the Transports' dial: addr is an endpoint pod IP:port.
func (u *Upstream) dialEndpoint(ctx context.Context, _, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("waypoint: endpoint address %q: %w", addr, err)
	}
	w, ok := u.State().WorkloadByIP(ap.Addr())
	if !ok {
		return nil, &ConnectError{Endpoint: ap, Err: errors.New("workload no longer in the workload API")}
	}
	return u.Connect(ctx, Endpoint{Workload: w, Addr: ap})
}

// Connect opens a connection to one endpoint: HBONE to <pod IP>:HBONEPort
// with :authority <pod IP>:<port>, expecting the workload's identity, or
// plain TCP to a workload that does not speak HBONE.
func (u *Upstream) Connect(ctx context.Context, ep Endpoint) (net.Conn, error) {
	u.init()
	ctx, cancel := context.WithTimeout(ctx, u.ConnectTimeout)
	defer cancel()
	var c net.Conn
	var err error
	if ep.Workload.Protocol == workloadapi.TunnelHBONE {
		var s *hbone.Stream
		s, err = u.Dialer.Connect(ctx, hbone.Request{
			Target:    netip.AddrPortFrom(ep.Addr.Addr(), u.HBONEPort),
			Authority: ep.Addr.String(),
			Key: hbone.PoolKey{SrcIdentity: u.Source.String(), DstIdentity: ep.Workload.Identity().String(),
				DstIP: ep.Addr.Addr()},
		})
		if err == nil {
			c = s
		}
	} else {
		c, err = u.DialPlain(ctx, "tcp", ep.Addr.String())
	}
	u.noteFailure(ep.Addr, err != nil)
	if err != nil {
		return nil, &ConnectError{Endpoint: ep.Addr, Workload: ep.Workload.Key(), Err: err}
	}
	return c, nil
}

// Dial resolves dst and connects to one of its endpoints for an L4 relay,
// trying the others when a connect fails.
func (u *Upstream) Dial(ctx context.Context, dst netip.AddrPort) (net.Conn, Endpoint, error) {
	u.init()
	tgt, err := Resolve(u.State(), dst)
	if err != nil {
		return nil, Endpoint{}, err
	}
	tried := map[netip.AddrPort]bool{}
	for {
		ep, ok := u.pick(tgt.Endpoints, tried)
		if !ok {
			return nil, Endpoint{}, err
		}
		tried[ep.Addr] = true
		var c net.Conn
		if c, err = u.Connect(ctx, ep); err == nil {
			return c, ep, nil
		}
		if ctx.Err() != nil {
			return nil, ep, err
		}
	}
}

type directRoundTripper struct{ c *h1Client }

func (d directRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return d.c.roundTrip(req)
}
