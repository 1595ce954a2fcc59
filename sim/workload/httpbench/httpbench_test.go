package httpbench

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server answers /bytes with 1 KiB, /deny with 403 and /short with 10 bytes,
// counting requests and the connections they came on.
func server(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	var requests, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/bytes":
			w.Write(make([]byte, 1024))
		case "/deny":
			http.Error(w, "RBAC: access denied", http.StatusForbidden)
		default:
			w.Write(make([]byte, 10))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &requests, &conns
}

func TestRTTTimesNAfterWarmupOnOneConnection(t *testing.T) {
	srv, requests, conns := server(t)
	res, err := Run(context.Background(), Config{Mode: ModeRTT, URL: srv.URL + "/bytes", ExpectBytes: 1024,
		Warmup: 20, N: 200, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || requests.Load() != 220 {
		t.Errorf("timed %d of %d requests served, want 200 of 220", res.Requests, requests.Load())
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections, want 1 keep-alive connection", conns.Load())
	}
	if !(res.P50us > 0 && res.P50us <= res.P90us && res.P90us <= res.P99us && res.P99us <= res.MaxUs) {
		t.Errorf("percentiles out of order: %+v", res)
	}
}

func TestRateHoldsTheRateOverConns(t *testing.T) {
	srv, _, conns := server(t)
	res, err := Run(context.Background(), Config{Mode: ModeRate, URL: srv.URL + "/bytes", ExpectBytes: 1024,
		Rate: 400, Conns: 4, Duration: time.Second, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Generous bounds: the machine is shared; a pacer that ignored the rate
	// would send thousands, one that stalled a handful.
	if res.Requests < 200 || res.Requests > 420 || res.RPS < 200 || res.RPS > 440 {
		t.Errorf("%d requests at %.0f rps, want ≈ 400 in 1 s", res.Requests, res.RPS)
	}
	if n := conns.Load(); n < 1 || n > 4 {
		t.Errorf("%d connections, want 1-4", n)
	}
}

func TestFailedRequestsFailTheRun(t *testing.T) {
	srv, _, _ := server(t)
	for _, tc := range []struct {
		name, path string
		mode       Mode
		want       string
	}{
		{"a 403 in rtt", "/deny", ModeRTT, "status 403"},
		{"a 403 in rate", "/deny", ModeRate, "status 403"},
		{"a short body", "/short", ModeRTT, "body of 10 bytes, want 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{Mode: tc.mode, URL: srv.URL + tc.path, ExpectBytes: 1024,
				N: 5, Rate: 100, Conns: 2, Duration: time.Second, Timeout: 10 * time.Second})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestTimeoutBoundsTheRun(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	_, err := Run(context.Background(), Config{Mode: ModeRTT, URL: srv.URL, N: 1, Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("error %v, want a timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Mode: ModeRTT, URL: "http://198.18.0.1:80/", N: 1, Timeout: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"valid rtt", func(*Config) {}, nil},
		{"valid rate", func(c *Config) { c.Mode, c.Rate, c.Conns, c.Duration = ModeRate, 1000, 16, time.Second }, nil},
		{"every problem is reported", func(c *Config) { c.Mode, c.URL, c.Timeout, c.ExpectBytes = "ping", "https://x", 0, -1 },
			[]string{`url: "https://x"`, "expect_bytes: -1", "timeout: 0s", `mode: "ping"`}},
		{"rtt counts", func(c *Config) { c.N, c.Warmup = 0, -1 }, []string{"n: 0 and warmup: -1"}},
		{"rate bounds", func(c *Config) { c.Mode, c.Rate, c.Conns, c.Duration = ModeRate, 0, MaxConns+1, MaxDuration+1 },
			[]string{"rate: 0", "conns: 257", "duration: 5m0.000000001s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
