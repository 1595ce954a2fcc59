package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Server serves a Zone over UDP and TCP on one address. The zone can be
// swapped atomically while serving (SIGHUP reload).
type Server struct {
	zone atomic.Pointer[Zone]
	udp  *dns.Server
	tcp  *dns.Server
	addr string
	// OnQuery, if set before Start, is called after each answer (query log).
	OnQuery func(remote net.Addr, q dns.Question, rcode int)
}

// NewServer returns a server for z; z must have been loaded by LoadZone or
// built by BuildZone.
func NewServer(z *Zone) *Server {
	s := &Server{}
	s.zone.Store(z)
	return s
}

// SetZone replaces the zone; queries in flight finish with the old one.
func (s *Server) SetZone(z *Zone) { s.zone.Store(z) }

// Start binds UDP and TCP on addr ("0.0.0.0:53"; port 0 picks one free port
// for both) and serves in the background. Once it returns, queries are
// answered: the sockets are bound, so the kernel queues them.
func (s *Server) Start(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("clusterdns: listen udp %s: %w", addr, err)
	}
	// Bind TCP to the port UDP got, which matters when addr asked for port 0.
	host, _, _ := net.SplitHostPort(addr)
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		pc.Close()
		return fmt.Errorf("clusterdns: listen tcp %s: %w", addr, err)
	}
	s.addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: notify,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	// Wait for both serve loops so that Shutdown never races their start.
	<-started
	<-started
	return nil
}

// Addr returns the bound address (UDP and TCP share the port).
func (s *Server) Addr() string { return s.addr }

// Shutdown stops both servers and waits for in-flight queries until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.udp.ShutdownContext(ctx), s.tcp.ShutdownContext(ctx))
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := Answer(s.zone.Load(), req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		// Over UDP the answer must fit the client's buffer; Truncate sets TC so
		// the client retries over TCP (large headless Services).
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
	if s.OnQuery != nil && len(req.Question) > 0 {
		s.OnQuery(w.RemoteAddr(), req.Question[0], resp.Rcode)
	}
}
