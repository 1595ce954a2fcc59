package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve accepts on a loopback listener and hands each connection to handle;
// everything is closed when the test ends.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echo is the raw TCP echo of sim/workload/echo: copy until EOF, half-close.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

func TestRunRTT(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = serve(t, echo)
	cfg.Size, cfg.Warmup, cfg.N = 64, 10, 200
	cfg.Timeout = 10 * time.Second
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeRTT || res.N != 200 || res.Size != 64 || res.GoMaxProcs < 1 {
		t.Errorf("result %+v: want mode rtt, n 200, size 64", res)
	}
	if !(0 < res.P50us && res.P50us <= res.P90us && res.P90us <= res.P99us && res.P99us <= res.P999us && res.P999us <= res.MaxUs) {
		t.Errorf("percentiles not positive and ordered: %+v", res)
	}
	if res.BytesPerSec != 0 || res.Bytes != 0 {
		t.Errorf("rtt result carries throughput: %+v", res)
	}
	if _, err := time.ParseDuration(res.Duration); err != nil {
		t.Errorf("duration %q: %v", res.Duration, err)
	}
}

func TestRunBulk(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode = ModeBulk
	cfg.Addr = serve(t, echo)
	cfg.Bytes, cfg.WarmupBytes = 8<<20, 1<<20
	cfg.Timeout = 10 * time.Second
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeBulk || res.Bytes != 8<<20 || res.BytesPerSec <= 0 || res.P50us != 0 {
		t.Errorf("result %+v: want bulk of 8 MiB with a positive rate and no latency", res)
	}
}

// TestResultJSON pins the field names perf/bench and readers of saved
// results depend on.
func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{Mode: ModeRTT, Addr: "10.0.0.1:9000", Size: 1024, N: 3, P50us: 1, P90us: 2, P99us: 3,
		P999us: 4, MaxUs: 5, MeanUs: 2.5, Duration: "7.5µs", GoMaxProcs: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mode":"rtt","addr":"10.0.0.1:9000","size":1024,"n":3,"p50_us":1,"p90_us":2,"p99_us":3,"p999_us":4,` +
		`"max_us":5,"mean_us":2.5,"duration":"7.5µs","gomaxprocs":1}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func TestRunErrors(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	// silent reads and never answers, but closes at the client's EOF; hold
	// never answers and keeps the connection open until the test ends.
	silent := serve(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	released := make(chan struct{})
	hold := serve(t, func(c net.Conn) { io.Copy(io.Discard, c); <-released })
	t.Cleanup(func() { close(released) })
	wrong := serve(t, func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write([]byte(strings.Repeat("z", n)))
		}
	})
	tests := []struct {
		name    string
		mode    Mode
		addr    string
		wantErr string
	}{
		{"nothing listening", ModeRTT, refused, "connect"},
		{"rtt against a server that never answers ends at the timeout", ModeRTT, silent, "timed out after 300ms"},
		{"bulk against a server that closes early", ModeBulk, silent, "the echo ended after 0 of 1048576 bytes"},
		{"bulk against a server that never answers ends at the timeout", ModeBulk, hold, "timed out after 300ms"},
		{"an echo of other bytes", ModeRTT, wrong, "differs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Mode, cfg.Addr, cfg.Size = tc.mode, tc.addr, 64
			cfg.Bytes, cfg.WarmupBytes = 1<<20, 0
			cfg.Timeout = 300 * time.Millisecond
			start := time.Now()
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v, not bounded by the timeout", d)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Addr = "10.0.0.1:9000"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string
	}{
		{"defaults with an address", func(*Config) {}, nil},
		{"bulk defaults", func(c *Config) { c.Mode = ModeBulk }, nil},
		{"every problem is reported", func(c *Config) { c.Mode = "pingpong"; c.Addr = ""; c.Timeout = 0 },
			[]string{`unknown mode "pingpong"`, "addr: not set", "timeout"}},
		{"rtt size and counts", func(c *Config) { c.Size = 0; c.N = 0 }, []string{"size: 0", "n: 0"}},
		{"rtt iterations bounded", func(c *Config) { c.N = MaxIterations }, []string{"sum ≤"}},
		{"bulk bytes", func(c *Config) { c.Mode = ModeBulk; c.Bytes = 0; c.WarmupBytes = -1 }, []string{"bytes: 0", "warmup-bytes: -1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			err := cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			for _, w := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}
