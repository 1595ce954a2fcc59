package ztunnel

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminListeners are the node-level endpoints, opened by the caller in
// ztunnel's own netns (ambient-semantics.md §1). A nil listener is skipped.
type AdminListeners struct {
	Admin     net.Listener // :15000, localhost only: /config_dump, /debug/pprof/
	Metrics   net.Listener // :15020: /metrics, /stats/prometheus
	Readiness net.Listener // :15021: /healthz/ready
}

// ServeAdmin serves the admin, metrics and readiness endpoints until ctx
// ends, then shuts the servers down and returns.
func (p *Proxy) ServeAdmin(ctx context.Context, ls AdminListeners) error {
	type served struct {
		ln net.Listener
		h  http.Handler
	}
	var all []served
	if ls.Admin != nil {
		all = append(all, served{ls.Admin, p.AdminHandler()})
	}
	if ls.Metrics != nil {
		all = append(all, served{ls.Metrics, p.MetricsHandler()})
	}
	if ls.Readiness != nil {
		all = append(all, served{ls.Readiness, p.ReadinessHandler()})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(all))
	servers := make([]*http.Server, len(all))
	for i, s := range all {
		// Hardening per reliability-tests.md §6 (G5: no server without
		// ReadHeaderTimeout).
		servers[i] = &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := servers[i].Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				errs[i] = err
			}
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// MetricsHandler serves the proxy's registry at /metrics and
// /stats/prometheus.
func (p *Proxy) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	h := promhttp.HandlerFor(p.metrics.Registry, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", h)
	mux.Handle("GET /stats/prometheus", h)
	return mux
}

// ReadinessHandler answers /healthz/ready: 200 once state has arrived and
// while not draining, else 503.
func (p *Proxy) ReadinessHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !p.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// configDump is the /config_dump document: the node, served pods, and the
// state snapshot in workloadapi's sorted dump form.
type configDump struct {
	Node    string          `json:"node"`
	Version string          `json:"version"`
	Pods    []string        `json:"pods"`
	State   json.RawMessage `json:"state"`
}

// AdminHandler serves /config_dump (JSON of the current state) and the Go
// runtime profiles under /debug/pprof/ (upstream ztunnel serves CPU and
// heap profiles on its admin port too): profiling the real processes of a
// cluster is how data-path costs are found (docs/perf.md). A CPU profile
// must be shorter than the server's 30 s write timeout.
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, _ *http.Request) {
		st := p.State()
		raw, err := st.Dump()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b, err := json.MarshalIndent(configDump{Node: p.cfg.Node, Version: st.Version(), Pods: p.podUIDs(), State: raw}, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	return mux
}
