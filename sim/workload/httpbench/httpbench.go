// Package httpbench is the HTTP client of the L7 benchmark (perf/bench
// BenchmarkAmbientL7VsL4). loadgen speaks raw TCP echo, which a waypoint
// cannot parse, and httpload reports only a p50 in a distribution run, so
// this package measures HTTP request/response latency the way loadgen
// measures TCP round trips. Two modes:
//
//   - rtt: closed loop on one keep-alive connection; the first Warmup
//     requests are discarded, the next N are timed (p50/p90/p99);
//   - rate: Conns connections share a fixed request rate for Duration, so
//     a proxy's CPU can be read per request at a known load (perf-method.md
//     §2: proxy vCPU at 1000 rps). It reports the rate achieved: when every
//     connection is busy the pacer waits, and the rate falls short rather
//     than queueing without bound.
//
// Every response must be 200 with exactly ExpectBytes of body (when set),
// so a denied request (403 from an L7 policy) or a wrong backend fails the
// run instead of being timed. It is stdlib only.
package httpbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/sim/workload/loadgen"
)

// Mode selects the measurement.
type Mode string

const (
	ModeRTT  Mode = "rtt"
	ModeRate Mode = "rate"
)

// Limits that keep one run bounded whatever the configuration says.
const (
	MaxIterations = 1_000_000
	MaxConns      = 256
	MaxRate       = 100_000
	MaxDuration   = 5 * time.Minute
)

// Config is one run. It travels as JSON in an environment variable.
type Config struct {
	Mode        Mode          `json:"mode"`
	URL         string        `json:"url"`
	ExpectBytes int           `json:"expect_bytes"` // required body length; 0 accepts any
	Warmup      int           `json:"warmup"`       // rtt
	N           int           `json:"n"`            // rtt
	Rate        float64       `json:"rate"`         // rate: requests per second over all connections
	Conns       int           `json:"conns"`        // rate
	Duration    time.Duration `json:"duration"`     // rate: measured time
	Timeout     time.Duration `json:"timeout"`      // the whole run
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.URL, "http://") {
		errs = append(errs, fmt.Errorf("url: %q, want http://", c.URL))
	}
	if c.ExpectBytes < 0 {
		errs = append(errs, fmt.Errorf("expect_bytes: %d must not be negative", c.ExpectBytes))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: %v must be positive", c.Timeout))
	}
	switch c.Mode {
	case ModeRTT:
		if c.N < 1 || c.Warmup < 0 || c.Warmup+c.N > MaxIterations {
			errs = append(errs, fmt.Errorf("n: %d and warmup: %d: want n ≥ 1, warmup ≥ 0, sum ≤ %d", c.N, c.Warmup, MaxIterations))
		}
	case ModeRate:
		if c.Rate <= 0 || c.Rate > MaxRate {
			errs = append(errs, fmt.Errorf("rate: %v out of range (0, %d]", c.Rate, MaxRate))
		}
		if c.Conns < 1 || c.Conns > MaxConns {
			errs = append(errs, fmt.Errorf("conns: %d out of range 1-%d", c.Conns, MaxConns))
		}
		if c.Duration <= 0 || c.Duration > MaxDuration {
			errs = append(errs, fmt.Errorf("duration: %v out of range (0, %v]", c.Duration, MaxDuration))
		}
	default:
		errs = append(errs, fmt.Errorf("mode: %q, want %q or %q", c.Mode, ModeRTT, ModeRate))
	}
	return errors.Join(errs...)
}

// Result is what one run observed. Latencies are in microseconds (in rate
// mode they are service times, from the send to the last body byte).
type Result struct {
	Mode     Mode    `json:"mode"`
	URL      string  `json:"url"`
	Requests int     `json:"requests"` // timed requests (rtt: N)
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
	MaxUs    float64 `json:"max_us"`
	// Seconds is the measured time; RPS is Requests over it.
	Seconds float64 `json:"seconds"`
	RPS     float64 `json:"rps"`
}

// Run performs the run. Any failed request fails it: a benchmark never
// records a run in which the path it measures was broken.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conns := 1
	if cfg.Mode == ModeRate {
		conns = cfg.Conns
	}
	tr := &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var (
		res Result
		err error
	)
	if cfg.Mode == ModeRTT {
		res, err = runRTT(ctx, client, cfg)
	} else {
		res, err = runRate(ctx, client, cfg)
	}
	res.Mode, res.URL = cfg.Mode, cfg.URL
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", cfg.Timeout, err)
	}
	return res, err
}

func runRTT(ctx context.Context, client *http.Client, cfg Config) (Result, error) {
	samples := make([]time.Duration, 0, cfg.N)
	var start time.Time
	for i := range cfg.Warmup + cfg.N {
		if i == cfg.Warmup {
			start = time.Now()
		}
		d, err := do(ctx, client, cfg)
		if err != nil {
			return Result{}, fmt.Errorf("request %d: %w", i+1, err)
		}
		if i >= cfg.Warmup {
			samples = append(samples, d)
		}
	}
	return summarize(samples, time.Since(start)), nil
}

func runRate(ctx context.Context, client *http.Client, cfg Config) (Result, error) {
	slots := make(chan struct{})
	done := make(chan []time.Duration, cfg.Conns)
	errc := make(chan error, cfg.Conns)
	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	for range cfg.Conns {
		go func() {
			var mine []time.Duration
			for range slots {
				d, err := do(workCtx, client, cfg)
				if err != nil {
					errc <- err
					stop()
					break
				}
				mine = append(mine, d)
			}
			done <- mine
		}()
	}
	// Slots are absolute times from start, so a late wake-up is caught up
	// on the next slot and the average rate holds (the latency here is a
	// service time, not coordinated-omission corrected: this mode is for
	// CPU per request).
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	start := time.Now()
	end := start.Add(cfg.Duration)
pace:
	for next := start; next.Before(end); next = next.Add(interval) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		select {
		case slots <- struct{}{}:
		case <-workCtx.Done():
			break pace
		}
	}
	close(slots)
	var samples []time.Duration
	for range cfg.Conns {
		samples = append(samples, <-done...)
	}
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return Result{}, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return summarize(samples, elapsed), nil
}

// do sends one GET and reads the whole body; it returns the time from the
// send to the last byte.
func do(ctx context.Context, client *http.Client, cfg Config) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	switch {
	case err != nil:
		return 0, fmt.Errorf("reading the body: %w", err)
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("status %d, want 200", resp.StatusCode)
	case cfg.ExpectBytes > 0 && n != int64(cfg.ExpectBytes):
		return 0, fmt.Errorf("body of %d bytes, want %d", n, cfg.ExpectBytes)
	}
	return d, nil
}

func summarize(samples []time.Duration, elapsed time.Duration) Result {
	l := loadgen.Summarize(samples)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	r := Result{Requests: l.N, P50us: us(l.P50), P90us: us(l.P90), P99us: us(l.P99), MaxUs: us(l.Max),
		Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.RPS = float64(l.N) / elapsed.Seconds()
	}
	return r
}
