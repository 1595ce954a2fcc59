package ztunnel

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// testApp is a pod's application: it greets each client with the address
// it sees ("from=<ip:port>\n", proving source preservation), then echoes
// and half-closes when the client does.
type testApp struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	count int
}

func startApp(t testing.TB, ip netip.Addr) *testApp {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	a := &testApp{ln: ln, conns: map[net.Conn]struct{}{}}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.conns[c] = struct{}{}
			a.count++
			a.mu.Unlock()
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				defer func() {
					_ = c.Close()
					a.mu.Lock()
					delete(a.conns, c)
					a.mu.Unlock()
				}()
				if _, err := fmt.Fprintf(c, "from=%s\n", c.RemoteAddr()); err != nil {
					return
				}
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		a.mu.Lock()
		for c := range a.conns {
			_ = c.Close()
		}
		a.mu.Unlock()
		a.wg.Wait()
	})
	return a
}

func (a *testApp) port() uint16 { return uint16(a.ln.Addr().(*net.TCPAddr).Port) }

func (a *testApp) accepted() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count
}

// converse reads the app's greeting, sends payload and reads it back; it
// returns the address the app saw.
func converse(t testing.TB, c net.Conn, payload []byte) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading greeting: %v", err)
	}
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("reading echo: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("echo differs")
	}
	_ = c.SetDeadline(time.Time{})
	return strings.TrimSpace(strings.TrimPrefix(line, "from="))
}

// finish half-closes c and waits for the app's EOF, ending the connection
// cleanly so its telemetry is written.
func finish(t testing.TB, c *net.TCPConn) {
	t.Helper()
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("waiting for EOF: %v", err)
	}
	_ = c.Close()
}
