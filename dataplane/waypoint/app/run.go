package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/lifecycle"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/telemetry"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
	"github.com/ambientlab/ambientlab/dataplane/xds"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel"
)

// jwksTimeout bounds one key set fetch (jwtauthn's default too).
const jwksTimeout = 5 * time.Second

// Run runs the waypoint until ctx ends, then drains (requests get
// Config.DrainGrace) and returns once every goroutine it started is done.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("waypoint: invalid config: %w", err)
	}
	log := cfg.Log.With("gateway", cfg.Namespace+"/"+cfg.Gateway, "pod", cfg.Pod)
	defer applyGCPercent(cfg.GCPercent)()
	defer lifecycle.ApplyMaxProcs(cfg.MaxProcs)()
	boot, err := identity.WaitBootstrap(ctx, cfg.BootstrapDir, cfg.BootstrapWait)
	if err != nil {
		return fmt.Errorf("waypoint: %w", err)
	}
	// The identity is the pod-bound credential's: the service account the
	// Gateway was deployed with (<gateway>, or <gateway>-istio-waypoint in
	// the legacy istioctl form), in the Gateway's namespace.
	self := boot.Identity
	if self.Namespace != cfg.Namespace || self.TrustDomain != cfg.TrustDomain {
		return fmt.Errorf("waypoint: bootstrap credential in %s names %s, not a service account of namespace %s in trust domain %s",
			cfg.BootstrapDir, self, cfg.Namespace, cfg.TrustDomain)
	}
	caOpts := boot.CAClientOptions(cfg.CAAddress)
	caOpts.Logger = log
	ca, err := identity.NewCAClient(caOpts)
	if err != nil {
		return fmt.Errorf("waypoint: %w", err)
	}
	defer ca.Close()
	certs, err := identity.NewManager(identity.DefaultManagerOptions(ca, log))
	if err != nil {
		return fmt.Errorf("waypoint: %w", err)
	}
	defer certs.Close()
	if err := certs.Prefetch(self); err != nil {
		return fmt.Errorf("waypoint: %w", err)
	}
	ownCert := func(ctx context.Context) (*identity.Certificate, error) { return certs.Certificate(ctx, self) }
	listen := cfg.Listen
	if listen == nil {
		listen = net.Listen
	}
	ls, err := openListeners(cfg, listen)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, self, boot.Verifier, ownCert, ls)
}

// listeners are the pod's sockets; nil ones are not served.
type listeners struct{ hbone, admin, metrics, readiness net.Listener }

func openListeners(cfg Config, listen func(network, addr string) (net.Listener, error)) (listeners, error) {
	var ls listeners
	for _, l := range []struct {
		dst  *net.Listener
		addr string
	}{{&ls.hbone, cfg.HBONEAddr}, {&ls.admin, cfg.AdminAddr}, {&ls.metrics, cfg.MetricsAddr}, {&ls.readiness, cfg.ReadinessAddr}} {
		if l.addr == "" {
			continue
		}
		ln, err := listen("tcp", l.addr)
		if err != nil {
			ls.close()
			return listeners{}, fmt.Errorf("waypoint: listen %s: %w", l.addr, err)
		}
		*l.dst = ln
	}
	return ls, nil
}

func (ls listeners) close() {
	for _, l := range []net.Listener{ls.hbone, ls.admin, ls.metrics, ls.readiness} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// serve wires the data path and runs it; it owns ls.
func serve(ctx context.Context, cfg Config, log *slog.Logger, self identity.Identity, verifier *identity.Verifier,
	ownCert func(context.Context) (*identity.Certificate, error), ls listeners) error {
	defer ls.close()
	gw := config.GatewayRef{Namespace: cfg.Namespace, Name: cfg.Gateway}
	var ads *xds.ADSClient
	workloads := func() *workloadapi.Snapshot { return ads.Current() }

	dialer := &hbone.Dialer{Log: log, DialContext: cfg.DialHBONE, TLSConfig: func(k hbone.PoolKey) (*tls.Config, error) {
		want, err := identity.Parse(k.DstIdentity)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := ownCert(cctx)
		if err != nil {
			return nil, err
		}
		return identity.ClientConfig(verifier, c, []identity.Identity{want}), nil
	}}
	defer dialer.Close()
	up := &transport.Upstream{State: workloads, Dialer: dialer, Source: self, Log: log}
	defer up.CloseIdleConnections()

	keys, err := jwtauthn.NewKeyCache(jwtauthn.KeyCacheConfig{Logger: log, Timeout: jwksTimeout, Fetcher: &jwksFetcher{
		workloads: workloads, mesh: up, plain: jwtauthn.NewHTTPFetcher(jwksTimeout), timeout: jwksTimeout, domain: cfg.TrustDomain}})
	if err != nil {
		return fmt.Errorf("waypoint: %w", err)
	}
	store := NewStore(gw, workloads, keys, log)
	store.serviceNames = append(store.serviceNames, self.ServiceAccount)
	ads, err = xds.NewADSClient(xds.ADSConfig{Address: cfg.XDSAddress, NodeID: "waypoint~" + cfg.Pod + "." + cfg.Namespace,
		Log: log, Extra: []xds.ExtraType{{TypeURL: config.TypeURL, Names: []string{gw.String()}, Apply: store.ApplyResources}}})
	if err != nil {
		return fmt.Errorf("waypoint: %w", err)
	}
	// One access-log line per request: batched off the request path and
	// written out in full once serving has stopped (SIGTERM loses none).
	accessLog := telemetry.NewBufferedWriter(cfg.AccessLog, 0, 0)
	defer accessLog.Close()
	tel, err := telemetry.New(telemetry.Config{AccessLog: slog.New(ztunnel.NewAccessLogHandler(accessLog, false, nil)),
		Directory: func() telemetry.Directory { return ads.Current() }})
	if err != nil {
		return err
	}
	wp, err := waypoint.New(waypoint.Config{Normalization: cfg.Normalization, Policies: store.Policies,
		Authenticator: store.Authenticator, Routes: store.Routes, Upstream: up, Logger: log})
	if err != nil {
		return err
	}
	srv, err := transport.NewServer(transport.ServerConfig{Serves: store.Serves, Handler: tel.Wrap(wp),
		L4Policies: store.L4Policies, TCPRoutes: store.TCPRoutes, Upstream: up, Log: log,
		OpenTCP: func(p waypoint.Peer, rec *waypoint.Record) transport.TCPReport { return tel.OpenTCP(p, rec) }})
	if err != nil {
		return err
	}
	hs := &hbone.Server{Handler: srv.Handle, Authority: hbone.AuthorityAnyIP, Log: log}
	// The waypoint has one identity whatever local address was dialled.
	tlsCfg := identity.ServerConfig(verifier, identity.CertSourceFunc(func(ctx context.Context, _ netip.Addr) (*identity.Certificate, error) {
		return ownCert(ctx)
	}))
	st := &status{gateway: gw, pod: cfg.Pod, self: self, cert: ownCert, store: store, ads: ads}

	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	goOwned := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	goOwned(func() {
		if err := ads.Run(runCtx); err != nil {
			log.Error("waypoint: xds client ended", "error", err)
		}
	})
	if ls.hbone != nil {
		goOwned(func() {
			if err := hs.Serve(runCtx, ls.hbone, tlsCfg); err != nil {
				log.Error("waypoint: hbone listener failed", "error", err)
			}
		})
	}
	endpoints := map[net.Listener]http.Handler{}
	for ln, h := range map[net.Listener]http.Handler{ls.admin: st.adminHandler(), ls.metrics: metricsHandler(tel.Registry()),
		ls.readiness: st.readinessHandler()} {
		if ln != nil {
			endpoints[ln] = h
		}
	}
	goOwned(func() {
		if err := serveHTTP(runCtx, endpoints); err != nil {
			log.Error("waypoint: admin endpoints failed", "error", err)
		}
	})
	goOwned(func() { reportReady(ctx, st, cfg.OnReady, log) })

	<-ctx.Done()
	st.draining.Store(true)
	log.Info("waypoint: draining", "grace", cfg.DrainGrace)
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), cfg.DrainGrace)
	defer cancelGrace()
	// GOAWAY on every HBONE connection and the HTTP server's graceful close
	// run together: idle keep-alive requests end while streams drain.
	var drain sync.WaitGroup
	var hboneErr error
	drain.Add(1)
	go func() { defer drain.Done(); hboneErr = hs.Shutdown(graceCtx) }()
	httpErr := srv.Shutdown(graceCtx)
	drain.Wait()
	stop()
	wg.Wait()
	log.Info("waypoint: stopped", "graceful", hboneErr == nil && httpErr == nil)
	return nil
}

// reportReady calls onReady once the waypoint is ready (see status), or
// returns when ctx ends first.
func reportReady(ctx context.Context, st *status, onReady func(), log *slog.Logger) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		missing := st.notReady(ctx)
		if len(missing) == 0 {
			snap, v := st.store.Snapshot()
			log.Info("waypoint: ready", "identity", st.self.String(), "config_version", v, "services", len(snap.Services),
				"workload_state", st.ads.Current().Version())
			onReady()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// applyGCPercent sets the collector's target for the waypoint's lifetime
// unless the operator chose one with GOGC; the returned func restores it.
func applyGCPercent(percent int) (restore func()) {
	if percent <= 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(old) }
}
