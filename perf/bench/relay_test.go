package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// The relay carries bytes both ways unchanged and propagates each side's
// half-close, on loopback, with an echo server behind it.
func TestRelayEchoesAndHalfCloses(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan error, 1)
	go func() { relayDone <- Relay(ctx, ln, echo.Addr().String()) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	payload := bytes.Repeat([]byte("relay!"), 1<<20) // several copy buffers' worth
	go func() {
		_, _ = c.Write(payload)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the echo through the relay: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want the %d sent, unchanged", len(got), len(payload))
	}
	cancel()
	select {
	case err := <-relayDone:
		if err != nil {
			t.Fatalf("Relay returned %v after its context ended; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Relay did not return after its context ended")
	}
}

// A target that refuses connections: the client is reset, the relay keeps
// serving.
func TestRelayResetsWhenTargetRefuses(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := dead.Addr().String()
	dead.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = Relay(ctx, ln, target) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return // reset before connect returned: the refusal already arrived
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the relay kept the client connection open after the target refused")
	}
	if n != 0 || err == nil {
		t.Fatalf("Read = %d, %v; want the connection to end with no data", n, err)
	}
}
