package app

import (
	"context"
	"fmt"
	"github.com/ambientlab/ambientlab/dataplane/lifecycle"
	"log/slog"
	"net"
	"sync"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/xds"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod"
)

// Run runs ztunnel until ctx ends, then drains (connections get
// Config.DrainGrace) and returns once every goroutine it started is done.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("ztunnel: invalid config: %w", err)
	}
	log := cfg.Log
	defer lifecycle.ApplyMaxProcs(cfg.MaxProcs)()
	boot, err := WaitBootstrap(ctx, cfg.BootstrapDir, cfg.BootstrapWait)
	if err != nil {
		return err
	}
	caOpts := boot.CAClientOptions(cfg.CAAddress) // presents the node credential, renewed as istiod renews it
	caOpts.Impersonate, caOpts.Logger = true, log
	ca, err := identity.NewCAClient(caOpts)
	if err != nil {
		return err
	}
	defer ca.Close()
	certs, err := identity.NewManager(identity.DefaultManagerOptions(ca, log))
	if err != nil {
		return err
	}
	defer certs.Close()
	proxy, err := ztunnel.New(ztunnel.Config{
		Node: cfg.Node, Logger: log, Verifier: boot.Verifier, Certificates: certs,
		AccessLog: slog.New(ztunnel.NewAccessLogHandler(cfg.AccessLog, false, nil)),
	})
	if err != nil {
		return err
	}
	ads, err := xds.NewADSClient(xds.ADSConfig{Address: cfg.XDSAddress, NodeID: "ztunnel~" + cfg.Node, NodeName: cfg.Node, Log: log})
	if err != nil {
		return err
	}
	zds, err := newZDSClient(cfg, proxy)
	if err != nil {
		return err
	}
	admin, err := listenAdmin(cfg)
	if err != nil {
		return err
	}

	// Everything below runs until stop; the proxy drains first so pods
	// close their listeners while state and ZDS are still there.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	goOwned := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	goOwned(func() {
		if err := ads.Run(runCtx); err != nil {
			log.Error("xds client ended", "error", err)
		}
	})
	goOwned(func() {
		for s := range ads.Subscribe(runCtx) {
			proxy.UpdateState(s)
		}
	})
	goOwned(func() { zds.Run(runCtx) })
	goOwned(func() {
		if err := proxy.ServeAdmin(runCtx, admin); err != nil {
			log.Error("admin endpoints failed", "error", err)
		}
	})
	goOwned(func() { reportReady(ctx, ads, zds, proxy, cfg, log) })

	<-ctx.Done()
	log.Info("ztunnel: draining", "grace", cfg.DrainGrace)
	graceful := proxy.Shutdown(context.Background(), cfg.DrainGrace)
	stop()
	wg.Wait()
	log.Info("ztunnel: stopped", "graceful", graceful)
	return nil
}

// reportReady calls OnReady once xDS has synced and the first ZDS snapshot
// has been applied, or returns when ctx ends first.
func reportReady(ctx context.Context, ads *xds.ADSClient, zds *inpod.Client, proxy *ztunnel.Proxy, cfg Config, log *slog.Logger) {
	for _, ch := range []<-chan struct{}{ads.Synced(), zds.Ready()} {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
	log.Info("ztunnel: ready", "node", cfg.Node, "pods", len(zds.Pods()), "state", proxy.State().Version())
	cfg.OnReady()
}

// newZDSClient serves every pod the node agent hands over with the proxy.
func newZDSClient(cfg Config, proxy *ztunnel.Proxy) (*inpod.Client, error) {
	zc := inpod.DefaultConfig()
	zc.SocketPath, zc.Logger = cfg.ZDSSocket, cfg.Log
	zc.Handler = inpod.ServePods(func(ctx context.Context, wl inpod.WorkloadInfo, s *inpod.PodSockets) error {
		return proxy.ServePod(ctx, ztunnel.PodContext{
			UID: wl.UID, Name: wl.Name, Namespace: wl.Namespace, ServiceAccount: wl.ServiceAccount,
			Listeners: ztunnel.Listeners{Outbound: s.Outbound, Inbound: s.Inbound, InboundPlaintext: s.InboundPlaintext},
			Sockets:   s.Factory,
		})
	}, cfg.Log)
	return inpod.NewClient(zc)
}

// listenAdmin opens the node-level endpoints; empty addresses are skipped.
func listenAdmin(cfg Config) (ztunnel.AdminListeners, error) {
	var ls ztunnel.AdminListeners
	for _, l := range []struct {
		dst  *net.Listener
		addr string
	}{{&ls.Admin, cfg.AdminAddr}, {&ls.Metrics, cfg.MetricsAddr}, {&ls.Readiness, cfg.ReadinessAddr}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, o := range []net.Listener{ls.Admin, ls.Metrics, ls.Readiness} {
				if o != nil {
					o.Close()
				}
			}
			return ls, fmt.Errorf("ztunnel: %w", err)
		}
		*l.dst = ln
	}
	return ls, nil
}
