package hbone_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

// H6: the client gives up while the server handler is still dialing; the
// handler's context must be cancelled (no stuck goroutine, no dial later).
func TestH6ClientAbortMidDial(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	f := newFixture(t, fixtureOpts{handler: func(ctx context.Context, _ *fixture, ss *hbone.ServerStream) {
		close(started)
		<-ctx.Done() // a slow upstream dial honouring ctx
		close(cancelled)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := f.dialer.Connect(ctx, f.request()); errc <- err }()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect err = %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled after client RST_STREAM")
	}
}

// H6: the client resets mid-copy; the server's Copy sees a peer reset and
// the upstream TCP connection is torn down, other streams unaffected.
func TestH6ResetMidCopy(t *testing.T) {
	copyErr := make(chan error, 1)
	f := newFixture(t, fixtureOpts{handler: func(ctx context.Context, f *fixture, ss *hbone.ServerStream) {
		up, err := net.Dial("tcp", ss.Authority().String())
		if err != nil {
			_ = ss.Reject(503, err.Error())
			return
		}
		s, err := ss.Accept()
		if err != nil {
			_ = up.Close()
			return
		}
		_, _, err = hbone.Copy(ctx, s, up.(*net.TCPConn))
		copyErr <- err
	}})
	other := f.connect(t)
	defer other.Close()
	s := f.connect(t)
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // RST_STREAM(CANCEL)
	var rerr *hbone.StreamResetError
	if err := <-copyErr; !errors.As(err, &rerr) || !rerr.Remote {
		t.Fatalf("server Copy err = %v, want a peer StreamResetError", err)
	}
	// The pooled connection and its other stream still work.
	if _, err := other.Write([]byte("still")); err != nil {
		t.Fatal(err)
	}
	_ = other.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(other, buf); err != nil || string(buf) != "still" {
		t.Fatalf("other stream: %q, %v", buf, err)
	}
}

// H6: half-close server→client first: the upstream says "bye" and closes
// its write side while still reading; the client sees EOF yet can write.
func TestH6HalfCloseFromServer(t *testing.T) {
	got := make(chan string, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("bye"))
		_ = c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	f := newFixture(t, fixtureOpts{})
	r := f.request()
	r.Authority = ln.Addr().String()
	s, err := f.dialer.Connect(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(s)
	if err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v; want bye then EOF", b, err)
	}
	if _, err := s.Write([]byte("late")); err != nil {
		t.Fatalf("write after peer half-close: %v", err)
	}
	_ = s.CloseWrite()
	if g := <-got; g != "late" {
		t.Fatalf("upstream got %q, want late", g)
	}
}

// H10: the destination presents a valid certificate for the wrong
// identity; the client aborts the handshake and no stream is opened.
func TestH10WrongServerIdentity(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.request()
	r.Key.DstIdentity = f.ca.SpiffeID("ns1", "someone-else")
	if _, err := f.dialer.Connect(context.Background(), r); err == nil {
		t.Fatal("Connect succeeded against the wrong identity")
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("handler ran %d times", n)
	}
}

// The server refuses TLS below 1.3 whatever its config says.
func TestServerRequiresTLS13(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cfg := f.ca.ClientConfig(f.cliCert, f.srvID)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	cfg.NextProtos = []string{"h2"}
	c, err := tls.Dial("tcp", f.addr.String(), cfg)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err = c.Read(make([]byte, 1)); err == nil {
			t.Fatal("TLS 1.2 connection was served")
		}
	}
}

// Idle pooled connections are released after IdleTimeout, and the pool
// caps streams per connection.
func TestPoolIdleReleaseAndStreamCap(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: hbone.Limits{IdleTimeout: 50 * time.Millisecond, MaxStreamsPerConn: 2}})
	var streams []*hbone.Stream
	for range 3 {
		streams = append(streams, f.connect(t))
	}
	if st := f.dialer.Stats(); st.Conns != 2 || st.Streams != 3 {
		t.Fatalf("stats %+v, want 2 conns / 3 streams", st)
	}
	for _, s := range streams {
		_ = s.Close()
	}
	waitFor(t, func() bool { return f.dialer.Stats().Conns == 0 })
}

// Shutdown drains: GOAWAY stops new streams while an open one finishes.
func TestServerShutdownDrains(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.connect(t)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- f.srv.Shutdown(ctx)
	}()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write([]byte("drain")); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	b, err := io.ReadAll(s)
	if err != nil || string(b) != "drain" {
		t.Fatalf("in-flight stream during drain: %q, %v", b, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := f.dialer.Connect(context.Background(), f.request()); err == nil {
		t.Fatal("Connect succeeded after server Shutdown")
	}
}

// No fd leak: a full fixture lifecycle with resets, rejects and clean
// closes returns the process to its starting descriptor count.
func TestNoFDLeak(t *testing.T) {
	countFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	before := countFDs()
	t.Run("cycle", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		for i := range 20 {
			s := f.connect(t)
			_, _ = s.Write([]byte("x"))
			_, _ = io.ReadFull(s, make([]byte, 1))
			if i%2 == 0 {
				_ = s.Close() // reset
				continue
			}
			_ = s.CloseWrite()
			_, _ = io.ReadAll(s)
			_ = s.Close()
		}
	})
	waitFor(t, func() bool { return countFDs() <= before })
}
