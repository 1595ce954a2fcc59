package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
)

// Config configures one waypoint process.
type Config struct {
	// Namespace and Gateway name the waypoint Gateway; Pod is this pod.
	Namespace, Gateway, Pod string
	// XDSAddress is istiod's plaintext xDS address (host:15010).
	XDSAddress string
	// CAAddress is istiod's certificate service (host:15012, TLS).
	CAAddress string
	// BootstrapDir holds the pod-bound bootstrap credential
	// (identity.LoadBootstrap); BootstrapWait bounds the wait for it.
	BootstrapDir  string
	BootstrapWait time.Duration
	// TrustDomain of the waypoint's identity (cluster.local).
	TrustDomain string
	// HBONEAddr (15008), AdminAddr (15000, localhost), MetricsAddr (15020)
	// and ReadinessAddr (15021) are the pod's listeners; empty skips one.
	HBONEAddr, AdminAddr, MetricsAddr, ReadinessAddr string
	// Normalization is meshConfig.pathNormalization (default BASE).
	Normalization pathnorm.Mode
	// DrainGrace is how long requests may finish on shutdown (default 5 s).
	DrainGrace time.Duration
	// Log receives operational logs; AccessLog the access log (ztunnel's
	// plain format, as the telemetry package writes it).
	Log       *slog.Logger
	AccessLog io.Writer
	// GCPercent is the garbage collector's target (debug.SetGCPercent)
	// while the waypoint runs; ≤ 0 or a GOGC environment variable leaves
	// the runtime's. The live heap is small and every request allocates,
	// so a higher target trades a few MiB for less collector CPU.
	GCPercent int
	// MaxProcs caps the Go scheduler's Ps (runtime.GOMAXPROCS) while the
	// waypoint runs; ≤ 0 or a GOMAXPROCS environment variable leaves the
	// runtime's. Default 1: per request the waypoint hands bytes between a
	// handful of goroutines, and with one P those handoffs stay on one
	// thread instead of waking another (perf-method.md §3; docs/perf.md
	// measured L7/L4 p50 2.07× → 1.6–1.7× and 0.375 → 0.21 cores per
	// 1000 req/s). Like Envoy's --concurrency, raise it for throughput.
	MaxProcs int
	// OnReady is called once: certificate, workload state and first config.
	OnReady func()
	// Listen opens the listeners; nil means net.Listen (tests bind port 0
	// and learn the addresses through it).
	Listen func(network, addr string) (net.Listener, error)
	// DialHBONE opens the TCP connection under an upstream HBONE tunnel
	// (to <pod IP>:15008); nil means a plain dial — the waypoint's netns is
	// not captured. Tests redirect it to fake destination ztunnels.
	DialHBONE func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultConfig has the waypoint pod's ports and timings.
func DefaultConfig() Config {
	return Config{
		BootstrapWait: 10 * time.Second,
		TrustDomain:   "cluster.local",
		HBONEAddr:     "0.0.0.0:15008",
		AdminAddr:     "127.0.0.1:15000",
		MetricsAddr:   "0.0.0.0:15020",
		ReadinessAddr: "0.0.0.0:15021",
		Normalization: pathnorm.ModeBase,
		DrainGrace:    5 * time.Second,
		GCPercent:     400,
		MaxProcs:      1,
	}
}

func (c *Config) validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"Namespace", c.Namespace}, {"Gateway", c.Gateway}, {"Pod", c.Pod},
		{"XDSAddress", c.XDSAddress}, {"CAAddress", c.CAAddress}, {"BootstrapDir", c.BootstrapDir},
		{"TrustDomain", c.TrustDomain}, {"HBONEAddr", c.HBONEAddr}} {
		if f.v == "" {
			errs = append(errs, errors.New(f.name+" is required"))
		}
	}
	if c.BootstrapWait <= 0 {
		c.BootstrapWait = 10 * time.Second
	}
	if c.DrainGrace <= 0 {
		c.DrainGrace = 5 * time.Second
	}
	if !c.Normalization.Valid() {
		c.Normalization = pathnorm.ModeBase
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
