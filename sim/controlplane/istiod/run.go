package istiod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/sim/controlplane"
	"github.com/ambientlab/ambientlab/sim/controlplane/ca"
	"github.com/ambientlab/ambientlab/sim/controlplane/nodeagent"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// Config configures the istiod process.
type Config struct {
	// StateDir is the Layout directory shared with the simulator.
	StateDir string
	// XDSListen (plaintext, :15010) and CAListen (TLS, :15012).
	XDSListen, CAListen string
	// RootNamespace is the mesh root namespace (default istio-system).
	RootNamespace string
	// PollInterval is how often the input is checked (default 500 ms);
	// Reload forces an immediate check (the simulator's SIGHUP).
	PollInterval time.Duration
	Reload       <-chan struct{}
	// RenewCheck is how often bootstrap credentials (nodes' and
	// waypoints') are checked for renewal past half life (default 1 min;
	// they live 24 h).
	RenewCheck time.Duration
	// OnReady is called once xDS, the CA and every node agent are serving
	// and the bootstrap credentials are written.
	OnReady func()
	Log     *slog.Logger
}

// Run serves until ctx ends. The input must exist when it starts.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.RenewCheck <= 0 {
		cfg.RenewCheck = time.Minute
	}
	if cfg.OnReady == nil {
		cfg.OnReady = func() {}
	}
	log, lay := cfg.Log, Layout{Dir: cfg.StateDir}
	cluster, _, version, err := controlplane.ReadInput(lay.InputDir())
	if err != nil {
		return err
	}
	opts := ca.DefaultOptions()
	opts.TrustDomain, opts.Logger = cluster.TrustDomain, log.With("component", "ca")
	authority, err := ca.Open(opts, lay.CADir()) // the same root and bindings across restarts
	if err != nil {
		return err
	}
	ids := newPodIdentities(cluster)
	srvOpts := ca.DefaultServerOptions(authority, ids)
	srvOpts.Logger = opts.Logger
	srvOpts.Pods = ids // waypoints' pod-bound credentials
	caSrv, err := ca.NewServer(srvOpts)
	if err != nil {
		return err
	}
	caLn, err := net.Listen("tcp", cfg.CAListen)
	if err != nil {
		return fmt.Errorf("istiod: CA: %w", err)
	}
	agents, err := startAgents(lay, cluster, log)
	if err != nil {
		caLn.Close()
		return err
	}
	defer func() {
		for _, a := range agents {
			a.Close()
		}
	}()
	if err := ensureNodeBootstraps(lay, authority, cluster, log, time.Now()); err != nil {
		caLn.Close()
		return err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 2+len(agents))
	goOwned := func(fn func() error) {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- fn() }()
	}
	defer wg.Wait()
	defer caSrv.Stop()
	defer stop()
	goOwned(func() error { return caSrv.Serve(caLn) })
	for _, a := range agents {
		goOwned(func() error { return a.Run(runCtx) })
	}
	xdsReload := make(chan struct{}, 1)
	xdsUp := make(chan struct{})
	goOwned(func() error {
		return controlplane.Run(runCtx, controlplane.Config{
			InputDir: lay.InputDir(), Listen: cfg.XDSListen, RootNamespace: cfg.RootNamespace,
			PollInterval: cfg.PollInterval, Reload: xdsReload, Log: log,
			OnListen: func(net.Addr) { close(xdsUp) },
		})
	})
	select {
	case <-xdsUp:
	case err := <-errc:
		return fmt.Errorf("istiod: starting: %w", err)
	case <-ctx.Done():
		return nil
	}
	log.Info("istiod: ready", "xds", cfg.XDSListen, "ca", caLn.Addr().String(), "nodes", len(agents))
	cfg.OnReady()

	en := &enroller{agents: agents, log: log, ackTimeout: nodeagent.DefaultConfig().AckTimeout, enrolled: map[string]enrolledPod{}}
	creds := &podCredentials{lay: lay, authority: authority, log: log.With("component", "ca")}
	return reloadLoop(runCtx, cfg, lay, errc, xdsReload, func(c *topology.Cluster, refs map[string]NetnsRef) int {
		ids.update(c)
		return creds.sync(c, time.Now()) + en.sync(runCtx, c, refs)
	}, func(c *topology.Cluster) {
		if err := ensureNodeBootstraps(lay, authority, c, log, time.Now()); err != nil {
			log.Error("istiod: renewing node bootstrap credentials", "error", err)
		}
	}, cluster, version)
}

// reloadLoop re-reads the input on each poll or reload and applies it to
// the enrollment; pending work (a pod whose namespace is not published yet,
// a failed add) is retried on every tick. Every RenewCheck it renews the
// nodes' bootstrap credentials and re-applies (which renews the pods').
func reloadLoop(ctx context.Context, cfg Config, lay Layout, errc <-chan error, xdsReload chan<- struct{},
	apply func(*topology.Cluster, map[string]NetnsRef) int, renewNodes func(*topology.Cluster),
	cluster *topology.Cluster, version string) error {
	tick := time.NewTicker(cfg.PollInterval)
	defer tick.Stop()
	renew := time.NewTicker(cfg.RenewCheck)
	defer renew.Stop()
	pending, dirty := 0, true
	for {
		if dirty || pending > 0 {
			refs, err := ReadNetns(lay.NetnsFile())
			if err != nil {
				cfg.Log.Error("istiod: netns map", "error", err)
			} else {
				pending = apply(cluster, refs)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("returned early")
			}
			return fmt.Errorf("istiod: a component stopped: %w", err)
		case <-cfg.Reload:
			select {
			case xdsReload <- struct{}{}:
			default:
			}
		case <-tick.C:
		case <-renew.C:
			renewNodes(cluster)
			dirty = true
			continue
		}
		// Every write of the simulator makes a new generation (netns map
		// first, then input), so an unchanged link means nothing to do.
		dirty = false
		if lay.InputVersion() == version {
			continue
		}
		next, _, v, err := controlplane.ReadInput(lay.InputDir())
		if err != nil {
			cfg.Log.Error("istiod: input not loaded; keeping the previous one", "error", err)
			continue
		}
		cluster, version, dirty = next, v, true
	}
}

// startAgents listens on every node's ZDS socket.
func startAgents(lay Layout, c *topology.Cluster, log *slog.Logger) (map[string]*nodeagent.Server, error) {
	agents := map[string]*nodeagent.Server{}
	for _, n := range c.Nodes {
		if err := os.MkdirAll(filepath.Dir(lay.ZDSSocket(n.Name)), 0o755); err != nil {
			return nil, err
		}
		ac := nodeagent.DefaultConfig()
		ac.SocketPath, ac.Logger = lay.ZDSSocket(n.Name), log.With("node", n.Name)
		a, err := nodeagent.New(ac)
		if err != nil {
			for _, o := range agents {
				o.Close()
			}
			return nil, err
		}
		agents[n.Name] = a
	}
	return agents, nil
}
