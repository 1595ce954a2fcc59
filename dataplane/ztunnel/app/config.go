package app

import (
	"errors"
	"io"
	"log/slog"
	"time"
)

// Config configures one ztunnel process.
type Config struct {
	// Node is the node this ztunnel serves.
	Node string
	// XDSAddress is istiod's plaintext xDS address (host:15010).
	XDSAddress string
	// CAAddress is istiod's certificate service (host:15012, TLS).
	CAAddress string
	// ZDSSocket is the node agent's socket (ztunnel's INPOD_UDS).
	ZDSSocket string
	// BootstrapDir holds the node credentials (see LoadBootstrap).
	BootstrapDir string
	// BootstrapWait bounds the wait for BootstrapDir (default 10 s).
	BootstrapWait time.Duration
	// AdminAddr (localhost only), MetricsAddr and ReadinessAddr are
	// ztunnel's 15000, 15020 and 15021 listeners in its own netns.
	AdminAddr, MetricsAddr, ReadinessAddr string
	// DrainGrace is how long connections may finish on shutdown (default 5 s).
	DrainGrace time.Duration
	// MaxProcs caps the Go scheduler's Ps while ztunnel runs (the analogue
	// of upstream's ZTUNNEL_WORKER_THREADS, see lifecycle.ApplyMaxProcs);
	// ≤ 0 or a GOMAXPROCS environment variable leaves the runtime's.
	// Default 1: every message crosses a few goroutines (reader, stream,
	// socket), and with one P those handoffs stay on one thread instead of
	// waking another; each node's ztunnel shares the machine with every
	// other simulated process anyway. docs/perf.md has the A/B: on 2 vCPUs,
	// −15–19% ztunnel CPU per round trip, −13–25% p50, single-stream
	// throughput unchanged. Raise it for many concurrent bulk streams.
	MaxProcs int
	// Log receives operational logs; AccessLog receives the access log
	// (ztunnel's plain format). Both default to discard.
	Log       *slog.Logger
	AccessLog io.Writer
	// OnReady is called once, when the first xDS state and the first ZDS
	// snapshot have both arrived.
	OnReady func()
}

// DefaultConfig has ztunnel's ports and timings.
func DefaultConfig() Config {
	return Config{
		BootstrapWait: 10 * time.Second,
		AdminAddr:     "127.0.0.1:15000",
		MetricsAddr:   "0.0.0.0:15020",
		ReadinessAddr: "0.0.0.0:15021",
		DrainGrace:    5 * time.Second,
		MaxProcs:      1,
	}
}

func (c *Config) validate() error {
	var errs []error
	for name, v := range map[string]string{"Node": c.Node, "XDSAddress": c.XDSAddress, "CAAddress": c.CAAddress,
		"ZDSSocket": c.ZDSSocket, "BootstrapDir": c.BootstrapDir} {
		if v == "" {
			errs = append(errs, errors.New(name+" is required"))
		}
	}
	if c.BootstrapWait <= 0 {
		c.BootstrapWait = 10 * time.Second
	}
	if c.DrainGrace <= 0 {
		c.DrainGrace = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.AccessLog == nil {
		c.AccessLog = io.Discard
	}
	if c.OnReady == nil {
		c.OnReady = func() {}
	}
	return errors.Join(errs...)
}
