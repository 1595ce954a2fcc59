//go:build unix

package sockets

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); acc <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-acc
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func mustRawIO(t *testing.T, c *net.TCPConn) *RawIO {
	t.Helper()
	r, err := NewRawIO(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A write far larger than the socket buffers must park on EAGAIN and
// finish once the peer reads, delivering every byte in order; the peer's
// reads through RawIO end with a bare io.EOF after CloseWrite.
func TestRawIOLargeWriteParksAndDeliversInOrder(t *testing.T) {
	c, s := tcpPair(t)
	w, r := mustRawIO(t, c), mustRawIO(t, s)
	payload := make([]byte, 16<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	werr := make(chan error, 1)
	go func() {
		n, err := w.Write(payload)
		if err == nil && n != len(payload) {
			err = io.ErrShortWrite
		}
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the writer fill the buffers and park
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d bytes, want the %d written, in order", len(got), len(payload))
	}
	if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

// Errors keep the shape of net.TCPConn's: a *net.OpError naming the
// operation, wrapping the deadline, close or errno sentinel.
func TestRawIOErrors(t *testing.T) {
	t.Run("read deadline", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := mustRawIO(t, c)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := r.Read(make([]byte, 8))
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "read" || !oe.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read past deadline = %v; want a read *net.OpError wrapping os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := mustRawIO(t, c)
		_ = c.Close()
		if _, err := r.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read on closed conn = %v; want net.ErrClosed", err)
		}
		if _, err := r.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write on closed conn = %v; want net.ErrClosed", err)
		}
	})
	t.Run("close unblocks a parked read", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := mustRawIO(t, c)
		done := make(chan error, 1)
		go func() { _, err := r.Read(make([]byte, 8)); done <- err }()
		time.Sleep(20 * time.Millisecond)
		_ = c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("parked Read after Close = %v; want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not unblock a parked Read")
		}
	})
	t.Run("reset", func(t *testing.T) {
		c, s := tcpPair(t)
		r := mustRawIO(t, c)
		if _, err := c.Write([]byte("unread")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		_ = s.SetLinger(0)
		_ = s.Close() // unread data + linger 0: the peer gets RST
		time.Sleep(10 * time.Millisecond)
		_, err := r.Read(make([]byte, 8))
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Read after RST = %v; want a read *net.OpError wrapping ECONNRESET", err)
		}
	})
	t.Run("empty buffers", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := mustRawIO(t, c)
		if n, err := r.Read(nil); n != 0 || err != nil {
			t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
		}
		if n, err := r.Write(nil); n != 0 || err != nil {
			t.Fatalf("Write(nil) = %d, %v; want 0, nil", n, err)
		}
	})
}

// Read and Write may run at the same time (a full-duplex relay).
func TestRawIOConcurrentReadWrite(t *testing.T) {
	c, s := tcpPair(t)
	rc, rs := mustRawIO(t, c), mustRawIO(t, s)
	const total = 4 << 20
	echoErr := make(chan error, 1)
	go func() { // echo: server side copies everything back
		_, err := io.Copy(rs, rs)
		if err == nil {
			err = s.CloseWrite()
		}
		echoErr <- err
	}()
	sendErr := make(chan error, 1)
	go func() {
		_, err := rc.Write(bytes.Repeat([]byte("0123456789abcdef"), total/16))
		if err == nil {
			err = c.CloseWrite()
		}
		sendErr <- err
	}()
	got, err := io.ReadAll(rc)
	if err != nil || len(got) != total {
		t.Fatalf("echoed %d bytes, %v; want %d", len(got), err, total)
	}
	for _, ch := range []chan error{sendErr, echoErr} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
}
