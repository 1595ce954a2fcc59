package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/ambientlab/ambientlab/sim/controlplane/authz"
	"github.com/ambientlab/ambientlab/sim/controlplane/xdsserver"
)

// Config configures the istiod process.
type Config struct {
	// InputDir is where the simulator writes WriteInput generations.
	InputDir string
	// Listen is the xDS address (":15010" plaintext, ":15012" with TLS).
	Listen string
	// TLS, when set, serves xDS over TLS (15012); nil serves plaintext.
	TLS *tls.Config
	// RootNamespace is the mesh root namespace (default istio-system).
	RootNamespace string
	// PollInterval is how often InputDir is checked for a new generation
	// (default 500 ms); Reload forces an immediate check (SIGHUP).
	PollInterval time.Duration
	Reload       <-chan struct{}
	// OnListen, if set, is called with the bound address once serving.
	OnListen func(net.Addr)
	Log      *slog.Logger
}

// Run serves xDS from cfg.InputDir until ctx is done. The input must exist
// when Run starts (the simulator writes it before starting istiod); a later
// unreadable generation is logged and the previous one stays served.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.RootNamespace == "" {
		cfg.RootNamespace = authz.DefaultRootNamespace
	}
	srv := xdsserver.New(cfg.Log)
	version, err := load(srv, cfg, "")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	var opts []grpc.ServerOption
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	g := grpc.NewServer(opts...)
	srv.Register(g)
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); serveErr <- g.Serve(ln) }()
	defer func() {
		g.Stop() // ztunnels keep their last config and reconnect to a new istiod
		wg.Wait()
		srv.Close()
	}()
	cfg.Log.Info("istiod: serving xDS", "address", ln.Addr().String(), "tls", cfg.TLS != nil, "input", version)
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr())
	}
	tick := time.NewTicker(cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-serveErr:
			return fmt.Errorf("controlplane: serve: %w", err)
		case <-tick.C:
		case <-cfg.Reload:
		}
		if v, err := load(srv, cfg, version); err != nil {
			cfg.Log.Error("istiod: input not loaded; keeping the previous config", "error", err)
		} else {
			version = v
		}
	}
}

// load reads the input if its generation differs from have, builds the
// resources and hands them to srv.
func load(srv *xdsserver.Server, cfg Config, have string) (string, error) {
	cluster, set, version, err := ReadInput(cfg.InputDir)
	if err != nil || version == have {
		return have, err
	}
	r := BuildResources(cluster, set, cfg.RootNamespace)
	for _, w := range r.Warnings {
		cfg.Log.Warn("istiod: status", "warning", w.String())
	}
	if err := srv.Update(r.Addresses, r.Authorizations, r.Waypoints...); err != nil {
		return have, err
	}
	cfg.Log.Info("istiod: input loaded", "input", version, "addresses", len(r.Addresses), "authorizations", len(r.Authorizations),
		"waypoints", len(r.Waypoints), "generation", srv.Generation())
	return version, nil
}
