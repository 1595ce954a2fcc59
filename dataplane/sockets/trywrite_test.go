//go:build unix

package sockets

import (
	"io"
	"net"
	"testing"
)

// TryWrite must never park: against a peer that does not read, a huge
// write returns a short count (whatever the kernel buffered) and no error,
// and the bytes it reports as written arrive in order.
func TestTryWriteNeverBlocks(t *testing.T) {
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
	defer c.Close()
	peer := <-acc
	if peer == nil {
		t.Fatal("accept failed")
	}
	defer peer.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 32<<20) // far above loopback socket buffers
	for i := range big {
		big[i] = byte(i)
	}
	n, err := TryWrite(rc, big)
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("TryWrite = %d, %v; want a short positive count and no error", n, err)
	}
	_ = c.Close()
	got, err := io.ReadAll(peer)
	if err != nil || len(got) != n {
		t.Fatalf("peer read %d, %v; want %d", len(got), err, n)
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("byte %d out of order", i)
		}
	}
}
