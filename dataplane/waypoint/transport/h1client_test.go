package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// h1Server is a real HTTP/1.1 server on loopback counting the connections
// it accepted.
func h1Server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func newH1Client() *h1Client {
	return &h1Client{dial: (&net.Dialer{}).DialContext, maxIdle: 4, idleTimeout: time.Minute}
}

func get(t *testing.T, c *h1Client, ctx context.Context, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// TestH1ClientKeepsConnectionsAlive: sequential requests of every body
// framing (length, chunked with trailers, HEAD, 204, after a 100 Continue)
// share one connection and arrive intact.
func TestH1ClientKeepsConnectionsAlive(t *testing.T) {
	s, conns := h1Server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "Grpc-Status")
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
			w.Header().Set("Grpc-Status", "0")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/continue":
			w.WriteHeader(http.StatusContinue)
			w.Write([]byte("after continue"))
		default:
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}
	})
	c := newH1Client()
	defer c.closeIdle()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/", "hello"}, {"GET", "/chunked", "ab"}, {"HEAD", "/", ""}, {"GET", "/empty", ""},
		{"GET", "/continue", "after continue"}, {"GET", "/", "hello"},
	} {
		resp, body, err := get(t, c, context.Background(), tc.method, s.URL+tc.path)
		if err != nil || body != tc.body {
			t.Fatalf("%s %s: %q, %v; want %q", tc.method, tc.path, body, err, tc.body)
		}
		if tc.path == "/chunked" && resp.Trailer.Get("Grpc-Status") != "0" {
			t.Errorf("chunked trailers lost: %v", resp.Trailer)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential kept-alive requests, want 1", n)
	}
}

// TestH1ClientRetriesAConnectionTheEndpointClosed: a pooled connection the
// server closed while idle is replaced for an idempotent request, never for
// a POST.
func TestH1ClientRetriesAConnectionTheEndpointClosed(t *testing.T) {
	s, conns := h1Server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Method) })
	c := newH1Client()
	defer c.closeIdle()
	if _, body, err := get(t, c, context.Background(), "GET", s.URL); err != nil || body != "GET" {
		t.Fatalf("first GET: %q, %v", body, err)
	}
	s.CloseClientConnections()
	if _, body, err := get(t, c, context.Background(), "GET", s.URL); err != nil || body != "GET" {
		t.Fatalf("GET after the server closed the idle connection: %q, %v", body, err)
	}
	s.CloseClientConnections()
	if _, _, err := get(t, c, context.Background(), "POST", s.URL); err == nil {
		t.Error("a POST on a connection the server closed was resent; want the error")
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestH1ClientDoesNotReuseAnUnfinishedConnection: a body closed before its
// end, or a Connection: close response, closes the connection.
func TestH1ClientDoesNotReuseAnUnfinishedConnection(t *testing.T) {
	s, conns := h1Server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("x", 100))
	})
	c := newH1Client()
	defer c.closeIdle()
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := c.roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if _, _, err := get(t, c, context.Background(), "GET", s.URL+"/close"); err != nil {
		t.Fatal(err)
	}
	if _, body, err := get(t, c, context.Background(), "GET", s.URL); err != nil || len(body) != 100 {
		t.Fatalf("third request: %d bytes, %v", len(body), err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (none reusable after an early close or Connection: close)", n)
	}
}

// TestH1ClientHonoursCancellation: a context that ends while the endpoint
// has not answered fails the request with the context's error.
func TestH1ClientHonoursCancellation(t *testing.T) {
	release := make(chan struct{})
	s, _ := h1Server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := newH1Client()
	defer c.closeIdle()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := get(t, c, ctx, "GET", s.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}

func TestDirectEligible(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(r *http.Request)
		want bool
	}{
		{"body-less GET", func(*http.Request) {}, true},
		{"request body", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("x")) }, false},
		{"upgrade", func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }, false},
		{"connection header", func(r *http.Request) { r.Header.Set("Connection", "close") }, false},
		{"close", func(r *http.Request) { r.Close = true }, false},
		{"POST: not resendable on a connection found closed", func(r *http.Request) { r.Method = "POST" }, false},
		{"HEAD", func(r *http.Request) { r.Method = "HEAD" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://198.19.0.10:80/", nil)
			tc.mod(r)
			if got := directEligible(r); got != tc.want {
				t.Errorf("directEligible = %v, want %v", got, tc.want)
			}
		})
	}
}
