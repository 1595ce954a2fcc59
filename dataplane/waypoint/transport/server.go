package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Serves reports whether dst (a CONNECT :authority) is a destination of
	// this waypoint: a Service bound to it, or a workload that names it. Others
	// are refused with 503. Required.
	Serves func(dst netip.AddrPort) bool
	// Handler serves L7 requests (the waypoint chain); each request's context
	// carries the stream's waypoint.Peer. Required.
	Handler http.Handler
	// L4Policies returns the policies for a TCP destination; nil entries deny.
	L4Policies func(dst netip.AddrPort) []*policy.Policy
	// TCPRoutes returns the routing of a TCP destination (TCPRoute weighted
	// split); nil or no TCP routes sends it to the original destination.
	TCPRoutes func(dst netip.AddrPort) *route.Table
	// Rand draws TCPRoute weights; nil means math/rand/v2.
	Rand route.Random
	// OpenTCP starts the telemetry of one L4 connection (telemetry.OpenTCP);
	// nil reports nothing.
	OpenTCP func(peer waypoint.Peer, rec *waypoint.Record) TCPReport
	// Upstream resolves destinations and relays L4 streams. Required.
	Upstream *Upstream
	// ReadHeaderTimeout bounds a request's header block (default 60 s);
	// IdleTimeout closes a downstream connection idle between requests
	// (default 1 h, Envoy's HCM idle_timeout).
	ReadHeaderTimeout, IdleTimeout time.Duration
	Log                            *slog.Logger
}

// TCPReport ends the telemetry of one L4 connection (telemetry.TCPConn).
type TCPReport interface {
	Complete(received, sent int64, err error)
	Fail(err error)
}

type noReport struct{}

func (noReport) Complete(int64, int64, error) {}
func (noReport) Fail(error)                   {}

// Server terminates HBONE for the waypoint; Handle is its hbone.Server
// handler. L7 streams are served by one net/http Server (HTTP/1.1 and h2c
// prior knowledge) fed through an in-memory listener.
type Server struct {
	cfg   ServerConfig
	log   *slog.Logger
	http  *http.Server  // HTTP/1.1
	h2    *http2.Server // h2c prior knowledge, one ServeConn per stream
	ln    *streamListener
	serve chan struct{} // closed when the HTTP server's Serve returns
}

// NewServer validates cfg and starts the HTTP server; Shutdown stops it.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Serves == nil || cfg.Handler == nil || cfg.Upstream == nil {
		return nil, errors.New("waypoint transport: Serves, Handler and Upstream are required")
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 60 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.OpenTCP == nil {
		cfg.OpenTCP = func(waypoint.Peer, *waypoint.Record) TCPReport { return noReport{} }
	}
	s := &Server{cfg: cfg, log: cfg.Log, ln: newStreamListener(), serve: make(chan struct{})}
	s.http = &http.Server{
		Handler:           cfg.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    60 << 10, // Envoy's max_request_headers_kb default
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if sc, ok := c.(*streamConn); ok {
				return waypoint.WithPeer(ctx, sc.peer)
			}
			return ctx
		},
	}
	// ConfigureServer ties the HTTP/2 server's connections to s.http, so
	// Shutdown sends them GOAWAY too.
	s.h2 = &http2.Server{IdleTimeout: cfg.IdleTimeout, MaxConcurrentStreams: 100}
	if err := http2.ConfigureServer(s.http, s.h2); err != nil {
		return nil, err
	}
	go func() {
		defer close(s.serve)
		_ = s.http.Serve(s.ln)
	}()
	return s, nil
}

// Shutdown stops taking streams, lets in-flight requests finish until ctx
// ends, then closes whatever is left and waits for the HTTP server.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
	}
	<-s.serve
	return err
}

// Handle serves one CONNECT stream (hbone.Server.Handler).
func (s *Server) Handle(ctx context.Context, ss *hbone.ServerStream) {
	auth := ss.Authority()
	if !auth.IsIP() {
		_ = ss.Reject(http.StatusBadRequest, "waypoint: authority must be ip:port")
		return
	}
	dst := auth.AddrPort()
	id, err := identity.PeerIdentity(ss.ConnectionState())
	if err != nil {
		_ = ss.Reject(http.StatusUnauthorized, err.Error())
		return
	}
	src := addrOf(ss.RemoteAddr())
	if !src.IsValid() {
		_ = ss.Reject(http.StatusBadRequest, "waypoint: no source address")
		return
	}
	if !s.cfg.Serves(dst) {
		_ = ss.Reject(http.StatusServiceUnavailable, "waypoint: "+dst.String()+" is not a destination of this waypoint")
		return
	}
	tgt, err := Resolve(s.cfg.Upstream.State(), dst)
	if errors.Is(err, ErrUnknownDestination) {
		_ = ss.Reject(http.StatusServiceUnavailable, err.Error())
		return
	}
	peer := waypoint.Peer{SourceIP: src, Identity: policy.NewIdentity(id.TrustDomain, id.Namespace, id.ServiceAccount),
		DestinationIP: dst.Addr(), DestPort: dst.Port()}
	s.log.Debug("waypoint: stream", "src", src.String(), "identity", id.String(), "dst", dst.String(), "l7", tgt.L7())
	if tgt.L7() {
		s.serveHTTP(ctx, ss, peer)
		return
	}
	s.serveL4(ctx, ss, peer, dst)
}

// serveHTTP hands the accepted stream to the HTTP server and waits until the
// server is done with it (the hbone handler's return closes the stream).
func (s *Server) serveHTTP(ctx context.Context, ss *hbone.ServerStream, peer waypoint.Peer) {
	stream, err := ss.Accept()
	if err != nil {
		return
	}
	br := bufio.NewReader(stream)
	sc := &streamConn{Stream: stream, r: br, peer: peer, done: make(chan struct{})}
	_ = stream.SetReadDeadline(time.Now().Add(s.cfg.ReadHeaderTimeout))
	h2, err := sniffH2(br)
	_ = stream.SetReadDeadline(time.Time{})
	if err != nil {
		_ = sc.Close()
		<-sc.done
		return
	}
	if h2 {
		s.h2.ServeConn(sc, &http2.ServeConnOpts{Context: waypoint.WithPeer(ctx, peer), Handler: s.cfg.Handler, BaseConfig: s.http})
		_ = sc.Close()
		<-sc.done
		return
	}
	if !s.ln.push(ctx, sc) {
		_ = sc.Close()
		<-sc.done
		return
	}
	select {
	case <-sc.done:
		s.log.Debug("waypoint: http connection closed by the server", "dst", peer.DestinationIP.String())
	case <-ctx.Done(): // the HBONE connection went away
		s.log.Debug("waypoint: hbone stream ended under the http connection", "dst", peer.DestinationIP.String())
		_ = sc.Close()
		<-sc.done
	}
}

// serveL4 evaluates the L4 attributes against the destination's policies
// (a DENY closes the stream, as Envoy's network RBAC filter closes the
// connection), picks the TCPRoute backend if any, then relays bytes to an
// endpoint of it.
func (s *Server) serveL4(ctx context.Context, ss *hbone.ServerStream, peer waypoint.Peer, dst netip.AddrPort) {
	rec := &waypoint.Record{}
	report := s.cfg.OpenTCP(peer, rec)
	var ps []*policy.Policy
	if s.cfg.L4Policies != nil {
		ps = s.cfg.L4Policies(dst)
	}
	d := policy.Evaluate(ps, &policy.Attributes{SourceIP: peer.SourceIP, Source: peer.Identity,
		DestinationIP: dst.Addr(), DestinationPort: dst.Port()})
	if !d.Allowed {
		s.log.Info("waypoint: tcp connection denied", "src", peer.SourceIP.String(), "identity", peer.Identity.String(),
			"dst", dst.String(), "reason", d.Text())
		report.Fail(errors.New(d.Text()))
		if stream, err := ss.Accept(); err == nil {
			_ = stream.Close()
		}
		return
	}
	backend, err := s.tcpBackend(dst, rec)
	if err != nil {
		report.Fail(err)
		if stream, err := ss.Accept(); err == nil { // Envoy closes: no route to send it
			_ = stream.Close()
		}
		return
	}
	up, ep, err := s.cfg.Upstream.Dial(ctx, backend)
	if err != nil {
		if errors.Is(err, ErrNoHealthyUpstream) {
			rec.AddFlags(waypoint.FlagNoHealthyUpstream)
		} else {
			rec.AddFlags(waypoint.FlagUpstreamConnectionFailure)
		}
		report.Fail(err)
		_ = ss.Reject(http.StatusServiceUnavailable, err.Error())
		return
	}
	rec.SetUpstream(ep.Addr, ep.Workload.Identity().String())
	stream, err := ss.Accept()
	if err != nil {
		_ = up.Close()
		report.Fail(err)
		return
	}
	upstream, ok := up.(hbone.HalfCloser)
	if !ok {
		upstream = noHalfClose{up}
	}
	received, sent, err := hbone.Copy(ctx, stream, upstream)
	report.Complete(received, sent, err)
}

// tcpBackend is where a TCP connection for dst goes: the first TCPRoute's
// weighted pick, else dst itself. It records the backend Service.
func (s *Server) tcpBackend(dst netip.AddrPort, rec *waypoint.Record) (netip.AddrPort, error) {
	var table *route.Table
	if s.cfg.TCPRoutes != nil {
		table = s.cfg.TCPRoutes(dst)
	}
	be, ok, err := table.TCPBackend(s.cfg.Rand)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("waypoint: tcp route for %s: %w", dst, err)
	}
	if ok {
		ns, name, _ := strings.Cut(be.Service, "/")
		target := be.Target(dst.Port())
		rec.SetBackend(waypoint.Backend{ServiceHostname: be.Hostname, ServiceNamespace: ns, ServiceName: name, Port: target.Port()})
		return target, nil
	}
	if svc, ok := s.cfg.Upstream.State().ServiceByVIP(dst.Addr()); ok {
		rec.SetBackend(waypoint.Backend{ServiceHostname: svc.Hostname, ServiceNamespace: svc.Namespace, ServiceName: svc.Name, Port: dst.Port()})
	}
	return dst, nil
}

// noHalfClose adapts a conn without CloseWrite: that direction ends when the
// connection closes.
type noHalfClose struct{ net.Conn }

func (noHalfClose) CloseWrite() error { return nil }

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
