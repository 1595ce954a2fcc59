package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
	}{
		{nil, OK},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, Refused},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, Reset},
		{fmt.Errorf("wrapped: %w", io.EOF), Reset},
		{context.DeadlineExceeded, Timeout},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, Timeout},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, DNSError},
		{errors.New("something else"), Error},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// TestRunAgainstLoopback exercises every outcome against real sockets.
func TestRunAgainstLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Canary", r.Header.Get(CanaryHeader))
		w.WriteHeader(418)
		io.WriteString(w, r.Method+" "+r.URL.Path)
	}))
	defer srv.Close()
	res := Run(context.Background(), Request{URL: srv.URL + "/x", Timeout: 2 * time.Second, Canary: "c1", Headers: http.Header{"A": {"b"}}})
	if res.Outcome != OK || res.Status != 418 || res.Body != "GET /x" || res.Headers["X-Seen-Canary"] != "c1" || res.RemoteAddr == "" {
		t.Errorf("http: %+v", res)
	}

	// Refused: a port nobody listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if res := Run(context.Background(), Request{TCP: addr, Timeout: time.Second}); res.Outcome != Refused {
		t.Errorf("refused: %+v", res)
	}

	// Reset: the server aborts the connection with SO_LINGER 0.
	rl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer rl.Close()
	go func() {
		for {
			c, err := rl.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			time.Sleep(50 * time.Millisecond)
			c.Close()
		}
	}()
	if res := Run(context.Background(), Request{TCP: rl.Addr().String(), Timeout: time.Second}); res.Outcome != Reset {
		t.Errorf("reset: %+v", res)
	}

	// Timeout: accepted but never answered.
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hl.Close()
	if res := Run(context.Background(), Request{URL: "http://" + hl.Addr().String() + "/", Timeout: 200 * time.Millisecond}); res.Outcome != Timeout {
		t.Errorf("timeout: %+v", res)
	}

	// TCP echo with half-close.
	el, _ := net.Listen("tcp", "127.0.0.1:0")
	defer el.Close()
	go func() {
		c, err := el.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	if res := Run(context.Background(), Request{TCP: el.Addr().String(), Body: "hi ", Canary: "c2", Timeout: time.Second}); res.Outcome != OK || res.Body != "hi c2" {
		t.Errorf("echo: %+v", res)
	}
}

func TestValidate(t *testing.T) {
	for _, r := range []Request{
		{Timeout: time.Second},
		{URL: "http://x", TCP: "x:1", Timeout: time.Second},
		{TCP: "x:1", Method: "GET", Timeout: time.Second},
		{TCP: "nohost", Timeout: time.Second},
		{URL: "http://x"},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		} else if res := Run(context.Background(), r); res.Outcome != Error || !strings.Contains(res.Error, err.Error()) {
			t.Errorf("Run of an invalid request: %+v", res)
		}
	}
}
