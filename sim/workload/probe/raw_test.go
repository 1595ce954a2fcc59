package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/internal/rawhttp"
)

func TestRunRawHTTP1Pipelined(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			w.WriteHeader(http.StatusForbidden)
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	raw := "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /deny HTTP/1.1\r\nHost: x\r\n\r\n"
	res := RunRaw(context.Background(), RawRequest{Addr: addr, Proto: "http1", H1: []byte(raw), Responses: 2})
	if len(res.Statuses) != 2 || res.Statuses[0] != 200 || res.Statuses[1] != 403 || res.Body != "/ok" || res.Error != "" {
		t.Fatalf("got %+v", res)
	}
	// Asking for more responses than the server gives reports the close.
	res = RunRaw(context.Background(), RawRequest{Addr: addr, Proto: "http1", H1: []byte("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), Responses: 2})
	if len(res.Statuses) != 1 || res.Refusal != "closed" {
		t.Fatalf("got %+v", res)
	}
}

// Against Go's own h2c server: a valid request is served, a forbidden
// connection-specific field is refused before the handler, a duplicate
// pseudo-header is a stream reset.
func TestRunRawHTTP2(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	base := []rawhttp.Field{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "x"}, {Name: ":path", Value: "/p"}}
	run := func(extra ...rawhttp.Field) rawhttp.Result {
		fs := append(append([]rawhttp.Field(nil), base...), extra...)
		return RunRaw(context.Background(), RawRequest{Addr: ln.Addr().String(), Proto: "http2", H2: &rawhttp.H2Request{Fields: fs}})
	}
	if res := run(); len(res.Statuses) != 1 || res.Statuses[0] != 418 || res.Body != "/p" {
		t.Errorf("valid: %+v", res)
	}
	if res := run(rawhttp.Field{Name: "connection", Value: "close"}); len(res.Statuses) != 1 || res.Statuses[0] != 400 {
		t.Errorf("connection header: %+v", res)
	}
	if res := run(rawhttp.Field{Name: ":path", Value: "/q"}); res.Refusal != "rst_stream:PROTOCOL_ERROR" {
		t.Errorf("duplicate :path: %+v", res)
	}
}

func TestRawRequestValidate(t *testing.T) {
	bad := []RawRequest{
		{Addr: "nohost", Proto: "http1", H1: []byte("x")},
		{Addr: "a:1", Proto: "http1"},
		{Addr: "a:1", Proto: "http2", H1: []byte("x")},
		{Addr: "a:1", Proto: "h3", H1: []byte("x")},
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		}
		if res := RunRaw(context.Background(), r); res.Error == "" || !strings.Contains(res.Error, "raw request") {
			t.Errorf("%+v ran: %+v", r, res)
		}
	}
}
