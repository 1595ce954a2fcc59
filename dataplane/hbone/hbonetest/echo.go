package hbonetest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Echo is a loopback TCP echo server that half-closes when its client does,
// so half-close propagation through a tunnel is observable.
type Echo struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// Accepted counts accepted connections (e.g. "0 upstream dials").
	accepted int
}

// StartEcho listens on 127.0.0.1:0; t.Cleanup stops it and waits.
func StartEcho(tb testing.TB) *Echo {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e := &Echo{ln: ln, conns: map[net.Conn]struct{}{}}
	e.wg.Add(1)
	go e.runAccept()
	tb.Cleanup(e.Close)
	return e
}

// Addr is the listen address.
func (e *Echo) Addr() *net.TCPAddr { return e.ln.Addr().(*net.TCPAddr) }

// Accepted reports how many connections reached the echo server.
func (e *Echo) Accepted() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

func (e *Echo) runAccept() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.accepted++
		e.mu.Unlock()
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			_, _ = io.Copy(c, c)
			_ = c.(*net.TCPConn).CloseWrite()
			// Drain until the client closes, then release.
			_, _ = io.Copy(io.Discard, c)
			_ = c.Close()
			e.mu.Lock()
			delete(e.conns, c)
			e.mu.Unlock()
		}()
	}
}

// Close stops accepting, closes live connections and waits.
func (e *Echo) Close() {
	_ = e.ln.Close()
	e.mu.Lock()
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}
