// Package echo is the simulator's built-in echo workload: on HTTP ports it
// speaks HTTP/1.1 and h2c and serves httpbin's endpoints plus an Istio-style
// echo report of what it observed (source address, headers, ...); on TCP ports
// it echoes bytes. Everything it serves is counted per port and source IP.
//
// It deliberately depends on the standard library and golang.org/x/net only: it
// runs once per simulated pod, so its memory footprint is multiplied by 1000.
package echo

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// Server hardening (docs reliability-tests.md §6).
const (
	readHeaderTimeout = 10 * time.Second
	// readTimeout covers a 10 MiB body on a slow, impaired link.
	readTimeout = 60 * time.Second
	// writeTimeout must exceed the longest /delay.
	writeTimeout   = maxDelay + 20*time.Second
	idleTimeout    = 90 * time.Second
	maxHeaderBytes = 64 << 10
	maxStreams     = 200
)

// Config configures the echo workload.
type Config struct {
	Identity  Identity
	ListenIP  string // default 0.0.0.0
	HTTPPorts []uint16
	TCPPorts  []uint16
	// Log receives one access line per HTTP request and TCP connection (stdout).
	Log io.Writer
	// ErrorLog receives server errors (malformed requests and the like); default stderr.
	ErrorLog io.Writer
	// Seed makes weighted status picks and /bytes reproducible.
	Seed uint64
}

// Server is a started echo workload.
type Server struct {
	stats     *Stats
	log       *accessLog
	conns     *connSet
	loops     sync.WaitGroup // accept loops
	https     []*http.Server
	httpAddrs []net.Addr
	tcpLns    []net.Listener
	tcpAddrs  []net.Addr
	shutdown  sync.Once
	errShut   error
}

// Start binds every port and serves in the background. When it returns
// without error all listeners are bound, so the caller may signal readiness.
// A bind failure closes what was already bound.
func Start(cfg Config) (*Server, error) {
	ip := cfg.ListenIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	errLog := cfg.ErrorLog
	if errLog == nil {
		errLog = os.Stderr
	}
	s := &Server{stats: NewStats(), log: newAccessLog(cfg.Log), conns: newConnSet()}
	var httpLns []net.Listener
	closeAll := func() {
		for _, ln := range httpLns {
			ln.Close()
		}
		for _, ln := range s.tcpLns {
			ln.Close()
		}
	}
	for _, p := range cfg.HTTPPorts {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(int(p))))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("echo: listen http port %d: %w", p, err)
		}
		httpLns = append(httpLns, ln)
	}
	for _, p := range cfg.TCPPorts {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(int(p))))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("echo: listen tcp port %d: %w", p, err)
		}
		s.tcpLns = append(s.tcpLns, ln)
	}

	for i, ln := range httpLns {
		port := boundPort(ln)
		srv, err := s.newHTTPServer(cfg, port, i, errLog)
		if err != nil {
			closeAll()
			return nil, err
		}
		s.https = append(s.https, srv)
		s.httpAddrs = append(s.httpAddrs, ln.Addr())
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			_ = srv.Serve(&trackingListener{Listener: ln, conns: s.conns})
		}()
	}
	for _, ln := range s.tcpLns {
		s.tcpAddrs = append(s.tcpAddrs, ln.Addr())
		s.loops.Add(1)
		go s.serveTCP(ln, boundPort(ln))
	}
	return s, nil
}

func (s *Server) newHTTPServer(cfg Config, port uint16, i int, errLog io.Writer) (*http.Server, error) {
	h := &httpHandler{
		id: cfg.Identity, port: port, stats: s.stats, log: s.log,
		rng: newLockedRand(cfg.Seed + uint64(i)), fails: &failCounter{},
	}
	h2s := &http2.Server{
		MaxConcurrentStreams: maxStreams,
		IdleTimeout:          idleTimeout,
		ReadIdleTimeout:      30 * time.Second,
		PingTimeout:          15 * time.Second,
	}
	srv := &http.Server{
		// h2c: prior knowledge and HTTP/1.1 Upgrade, both hijacked into h2s. The
		// outer MaxBytesHandler bounds the upgrade request, which h2c buffers.
		Handler:           http.MaxBytesHandler(h2c.NewHandler(h, h2s), maxBodyBytes),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(errLog, "echo: port "+strconv.Itoa(int(port))+": ", 0),
	}
	// Registers h2s's GOAWAY on srv.Shutdown, so hijacked h2c connections are
	// drained gracefully too.
	if err := http2.ConfigureServer(srv, h2s); err != nil {
		return nil, fmt.Errorf("echo: configure http2 on port %d: %w", port, err)
	}
	return srv, nil
}

// HTTPAddrs returns the bound HTTP listener addresses, in flag order.
func (s *Server) HTTPAddrs() []net.Addr { return s.httpAddrs }

// TCPAddrs returns the bound TCP echo listener addresses, in flag order.
func (s *Server) TCPAddrs() []net.Addr { return s.tcpAddrs }

// Stats returns the request and connection counters.
func (s *Server) Stats() *Stats { return s.stats }

// Shutdown stops accepting, lets in-flight requests and connections finish
// until ctx ends, then closes whatever is left. It returns once every server
// goroutine has exited; the error is ctx's when connections had to be cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() { s.errShut = s.doShutdown(ctx) })
	return s.errShut
}

func (s *Server) doShutdown(ctx context.Context) error {
	for _, ln := range s.tcpLns {
		ln.Close()
	}
	var wg sync.WaitGroup
	for _, srv := range s.https {
		wg.Go(func() { _ = srv.Shutdown(ctx) })
	}
	wg.Wait()
	// http.Server.Shutdown does not wait for hijacked (h2c) connections; they
	// and the TCP echo connections are in conns.
	err := s.conns.waitEmpty(ctx)
	if err != nil {
		for _, srv := range s.https {
			srv.Close()
		}
	}
	s.conns.closeAll()
	s.loops.Wait()
	if err != nil {
		return fmt.Errorf("echo: connections cut at shutdown: %w", err)
	}
	return nil
}

func boundPort(ln net.Listener) uint16 {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		return uint16(a.Port)
	}
	return 0
}

// connSet tracks open connections so shutdown can wait for and then cut them.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
}

func newConnSet() *connSet { return &connSet{m: make(map[net.Conn]struct{})} }

// add registers c; after closeAll it closes c instead and reports false.
func (cs *connSet) add(c net.Conn) bool {
	cs.mu.Lock()
	closed := cs.closed
	if !closed {
		cs.m[c] = struct{}{}
	}
	cs.mu.Unlock()
	if closed {
		c.Close() // outside the lock: a trackedConn's Close calls remove
	}
	return !closed
}

func (cs *connSet) remove(c net.Conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.m, c)
}

func (cs *connSet) len() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.m)
}

// waitEmpty polls until no connection is open or ctx ends. Polling (only during
// shutdown) keeps add/remove to a map operation on the hot path.
func (cs *connSet) waitEmpty(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for cs.len() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (cs *connSet) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	open := make([]net.Conn, 0, len(cs.m))
	for c := range cs.m {
		open = append(open, c)
	}
	cs.mu.Unlock()
	// Outside the lock: a trackedConn's Close calls remove.
	for _, c := range open {
		c.Close()
	}
}

// trackingListener registers every accepted HTTP connection in conns until it is closed.
type trackingListener struct {
	net.Listener
	conns *connSet
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, conns: l.conns}
	if !l.conns.add(tc) {
		return nil, net.ErrClosed // shutting down; add closed the connection
	}
	return tc, nil
}

type trackedConn struct {
	net.Conn
	conns *connSet
	once  sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.conns.remove(c) })
	return err
}
