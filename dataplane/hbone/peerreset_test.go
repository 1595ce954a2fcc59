package hbone_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

// respondThenReset is a server that answers the way an HTTP server closing
// a connection does: it writes body, ends its side (END_STREAM), then
// closes the stream while the client's side is still open, which resets
// it (RST_STREAM CANCEL). A stream whose first byte is 'E' gets "pong"
// instead, closed cleanly; it orders the test (see waitForReset).
func respondThenReset(body []byte, reset chan<- struct{}) func(context.Context, *fixture, *hbone.ServerStream) {
	return func(ctx context.Context, f *fixture, ss *hbone.ServerStream) {
		s, err := ss.Accept()
		if err != nil {
			return
		}
		first := make([]byte, 1)
		if _, err := io.ReadFull(s, first); err != nil {
			_ = s.Close()
			return
		}
		if first[0] == 'E' {
			_, _ = s.Write([]byte("pong"))
			_ = s.CloseWrite()
			_, _ = io.Copy(io.Discard, s)
			_ = s.Close()
			return
		}
		_, _ = s.Write(body)
		_ = s.CloseWrite()
		_ = s.Close() // the client has not ended its side: RST_STREAM(CANCEL)
		close(reset)
	}
}

// waitForReset returns once the client has processed the server's reset:
// frames of one connection are read in order, and a second stream's
// response is sent after the reset.
func waitForReset(t *testing.T, f *fixture, reset <-chan struct{}) {
	t.Helper()
	select {
	case <-reset:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not reset the stream")
	}
	e := f.connect(t)
	defer e.Close()
	_ = e.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := e.Write([]byte("E")); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(e); err != nil || string(b) != "pong" {
		t.Fatalf("ordering stream: %q, %v", b, err)
	}
}

// A reset that follows the peer's END_STREAM cannot take back what the peer
// had finished sending (RFC 9113 §5.1, half-closed remote): unread data
// stays readable, then EOF; only our write side fails. Before, a CANCEL
// there dropped an unread response, and a client behind ztunnel saw a
// reset instead of the waypoint's 400.
func TestPeerResetAfterEndStreamKeepsData(t *testing.T) {
	reset := make(chan struct{})
	response := []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
	f := newFixture(t, fixtureOpts{handler: respondThenReset(response, reset)})
	s := f.connect(t)
	defer s.Close()
	if _, err := s.Write([]byte("R")); err != nil {
		t.Fatal(err)
	}
	waitForReset(t, f, reset)
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, response) {
		t.Fatalf("read %q, %v; want the whole response, then EOF", got, err)
	}
	if _, err := s.Write([]byte("more")); err == nil {
		t.Fatal("write after the peer's reset succeeded")
	}
}

// Copy, as a client ztunnel runs it: the app keeps sending after the
// server's reset, so the app→stream direction fails first, while most of
// a large response still waits in the stream for the app to read it. That
// response must reach the app whole and end in EOF, not be cut by a reset
// from aborting both directions.
func TestCopyDeliversResponseAfterPeerReset(t *testing.T) {
	reset := make(chan struct{})
	response := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB: within one stream window
	f := newFixture(t, fixtureOpts{handler: respondThenReset(response, reset)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	app, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	proxySide, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// Small fixed socket buffers (no autotuning): while the app does not
	// read, nearly all of the response stays queued in the stream.
	_ = app.(*net.TCPConn).SetReadBuffer(64 << 10)
	_ = proxySide.(*net.TCPConn).SetWriteBuffer(64 << 10)

	s := f.connect(t)
	copied := make(chan error, 1)
	go func() {
		_, _, err := hbone.Copy(context.Background(), proxySide.(*net.TCPConn), s)
		copied <- err
	}()
	if _, err := app.Write([]byte("R")); err != nil {
		t.Fatal(err)
	}
	waitForReset(t, f, reset)
	if _, err := app.Write([]byte("more")); err != nil { // fails the app→stream direction
		t.Fatal(err)
	}
	_ = app.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(app)
	if err != nil || !bytes.Equal(got, response) {
		t.Fatalf("app read %d of %d response bytes, err %v; want all of them, then EOF", len(got), len(response), err)
	}
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Fatal("Copy did not return")
	}
}
