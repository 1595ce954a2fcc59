// Package loadgen is the client half of the data-plane benchmarks: it runs
// inside a client pod (via `ambientlab-workload loadgen`, exec'd by
// perf/bench) against a raw TCP echo server and reports one JSON Result.
//
// Two closed-loop modes, both on one connection so that a raw path and a
// mesh path see exactly the same client:
//
//   - rtt: ping-pong of Size bytes; each iteration's latency is kept, the
//     first Warmup iterations are discarded (pools, windows, buffers);
//   - bulk: a single stream writes WarmupBytes+Bytes while reading the echo
//     back; throughput counts only the bytes echoed after the warm-up.
//
// It is closed-loop on purpose: it measures service time, the quantity the
// ratio goals of perf-method.md are stated in. It does not pace (open-loop
// latency with coordinated-omission correction needs the pacer described in
// perf-method.md §4 and belongs to perf/load).
//
// It is stdlib only: it is linked into the per-pod workload binary, which
// must stay small (internal/archtest).
package loadgen

import (
	"errors"
	"fmt"
	"time"
)

// Mode selects the measurement.
type Mode string

const (
	ModeRTT  Mode = "rtt"
	ModeBulk Mode = "bulk"
)

// ParseMode parses the --mode flag.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeRTT, ModeBulk:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want %q or %q)", s, ModeRTT, ModeBulk)
}

// Limits that keep a run bounded in memory whatever the flags say.
const (
	// MaxIterations bounds Warmup+N: the samples are preallocated (8 bytes
	// each), so this caps them at 80 MB.
	MaxIterations = 10_000_000
	// MaxSize bounds one rtt message.
	MaxSize = 1 << 20
)

// Config is one run.
type Config struct {
	Mode Mode
	Addr string // host:port of a raw TCP echo server

	// rtt
	Size   int // bytes per message, each way
	Warmup int // iterations discarded before recording
	N      int // iterations recorded

	// bulk
	Bytes       int64 // bytes measured (each way)
	WarmupBytes int64 // bytes echoed before the clock starts

	// Timeout bounds the whole run, connect included.
	Timeout time.Duration
}

// DefaultConfig is perf-method.md's sequential-latency setup: 1 KiB, 1000
// warm-up and 20,000 measured iterations; bulk moves 1 GiB after 16 MiB.
func DefaultConfig() Config {
	return Config{
		Mode:        ModeRTT,
		Size:        1024,
		Warmup:      1000,
		N:           20000,
		Bytes:       1 << 30,
		WarmupBytes: 16 << 20,
		Timeout:     60 * time.Second,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if _, err := ParseMode(string(c.Mode)); err != nil {
		errs = append(errs, err)
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: not set"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: %v must be positive", c.Timeout))
	}
	switch c.Mode {
	case ModeRTT:
		if c.Size < 1 || c.Size > MaxSize {
			errs = append(errs, fmt.Errorf("size: %d is out of range 1-%d", c.Size, MaxSize))
		}
		if c.N < 1 || c.Warmup < 0 || c.Warmup+c.N > MaxIterations {
			errs = append(errs, fmt.Errorf("n: %d and warmup: %d: want n ≥ 1, warmup ≥ 0, sum ≤ %d", c.N, c.Warmup, MaxIterations))
		}
	case ModeBulk:
		if c.Bytes < 1 {
			errs = append(errs, fmt.Errorf("bytes: %d must be positive", c.Bytes))
		}
		if c.WarmupBytes < 0 {
			errs = append(errs, fmt.Errorf("warmup-bytes: %d must not be negative", c.WarmupBytes))
		}
	}
	return errors.Join(errs...)
}

// Result is what one run prints. Latencies are in microseconds; rtt runs
// leave the throughput fields zero and bulk runs the latency fields.
type Result struct {
	Mode Mode   `json:"mode"`
	Addr string `json:"addr"`
	Size int    `json:"size,omitempty"`
	N    int    `json:"n,omitempty"`

	P50us  float64 `json:"p50_us,omitempty"`
	P90us  float64 `json:"p90_us,omitempty"`
	P99us  float64 `json:"p99_us,omitempty"`
	P999us float64 `json:"p999_us,omitempty"`
	MaxUs  float64 `json:"max_us,omitempty"`
	MeanUs float64 `json:"mean_us,omitempty"`

	Bytes       int64   `json:"bytes,omitempty"`
	BytesPerSec float64 `json:"bytes_per_sec,omitempty"`

	// Duration is the measured part of the run (warm-up excluded), as
	// time.Duration text ("1.5s").
	Duration string `json:"duration"`
	// GoMaxProcs is recorded next to the result, as perf-method.md §4 asks.
	GoMaxProcs int `json:"gomaxprocs"`
}
