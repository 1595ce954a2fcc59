package telemetry_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStreamingSurvivesTheWrapper: a chunk flushed by the handler reaches the
// client while the handler is still running, through both Flush paths
// (http.Flusher and http.ResponseController, which needs Unwrap).
func TestStreamingSurvivesTheWrapper(t *testing.T) {
	for _, via := range []string{"flusher", "controller"} {
		t.Run(via, func(t *testing.T) {
			release := make(chan struct{})
			h := newHarness(t, func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, "first;")
					if via == "flusher" {
						w.(http.Flusher).Flush()
					} else if err := http.NewResponseController(w).Flush(); err != nil {
						t.Errorf("ResponseController.Flush: %v", err)
					}
					select {
					case <-release:
					case <-time.After(10 * time.Second):
					}
					_, _ = io.WriteString(w, "second")
				})
			})
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, get("/stream")); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, len("first;"))
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first;" {
				t.Fatalf("first chunk before release: %q, %v", first, err)
			}
			close(release)
			if rest := readAll(t, resp.Body); rest != "second" {
				t.Fatalf("rest = %q", rest)
			}
			resp.Body.Close()
			line := h.log.line(t, `path="/stream"`)
			assertContains(t, line, "response_code=200", `response_flags="-"`)
			samples := scrape(t, h.tel.Registry())
			sent := find(t, samples, "istio_response_bytes_sum", map[string]string{"response_code": "200"})
			if min := float64(len("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nfirst;second")); sent != min {
				t.Errorf("response bytes %v, want %v (status line, handler headers, body)", sent, min)
			}
		})
	}
}

// TestClientGoneIsDC: a client that hangs up before the response yields
// response_code 0 and flag DC, logged at ERROR.
func TestClientGoneIsDC(t *testing.T) {
	h := newHarness(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
				t.Error("the server never noticed the client left")
			}
		})
	})
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, strings.Replace(get("/slow"), "Connection: close\r\n", "", 1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the server start the handler
	c.Close()
	// The line is written once Wrap's handler returns.
	for deadline := time.Now().Add(10 * time.Second); !h.log.has(`path="/slow"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no access log line for the abandoned request")
		}
	}
	line := h.log.line(t, `path="/slow"`)
	assertContains(t, line, "\terror\taccess\t", "response_code=0", `response_flags="DC"`,
		`response_code_details="downstream_remote_disconnect"`)
	if got := find(t, scrape(t, h.tel.Registry()), "istio_requests_total",
		map[string]string{"response_code": "0", "response_flags": "DC"}); got != 1 {
		t.Errorf("DC requests = %v", got)
	}
}

// TestGRPCStatusFromTrailer: request_protocol grpc and the grpc-status
// trailer become labels.
func TestGRPCStatusFromTrailer(t *testing.T) {
	h := newHarness(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "Grpc-Status")
			w.Header().Set("Content-Type", "application/grpc")
			_, _ = w.Write([]byte{0, 0, 0, 0, 0})
			w.Header().Set("Grpc-Status", "5")
		})
	})
	raw := "POST /pkg.Svc/Get HTTP/1.1\r\nHost: httpbin:8000\r\nContent-Type: application/grpc\r\nTE: trailers\r\n" +
		"Content-Length: 5\r\nConnection: close\r\n\r\n\x00\x00\x00\x00\x00"
	if resp := h.roundTrip(t, raw); !strings.Contains(resp, "Grpc-Status: 5") {
		t.Fatalf("trailer missing: %q", resp)
	}
	if got := find(t, scrape(t, h.tel.Registry()), "istio_requests_total", map[string]string{
		"request_protocol": "grpc", "response_code": "200", "grpc_response_status": "5"}); got != 1 {
		t.Errorf("grpc requests = %v", got)
	}
}
