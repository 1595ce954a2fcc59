package app

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

// status is what readiness and the config dump read.
type status struct {
	gateway  config.GatewayRef
	pod      string
	self     identity.Identity
	cert     func(context.Context) (*identity.Certificate, error)
	store    *Store
	ads      *xds.ADSClient
	draining atomic.Bool
}

// notReady lists what readiness still lacks, empty when ready: the
// certificate, the workload state and the first waypoint config, and not
// draining.
func (s *status) notReady(ctx context.Context) []string {
	var missing []string
	if s.draining.Load() {
		return []string{"draining"}
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.cert(cctx); err != nil {
		missing = append(missing, "certificate: "+err.Error())
	}
	select {
	case <-s.ads.Synced():
	default:
		missing = append(missing, "workload state")
	}
	select {
	case <-s.store.Received():
	default:
		missing = append(missing, "waypoint config "+s.gateway.String())
	}
	return missing
}

func (s *status) readinessHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, r *http.Request) {
		if missing := s.notReady(r.Context()); len(missing) > 0 {
			http.Error(w, "not ready: "+strings.Join(missing, "; "), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", h)
	mux.Handle("GET /stats/prometheus", h)
	return mux
}

// configDump is /config_dump: the waypoint's identity and certificate, the
// current config snapshot with its version, and the xDS client's status.
type configDump struct {
	Gateway       string           `json:"gateway"`
	Pod           string           `json:"pod"`
	Identity      string           `json:"identity"`
	Certificate   *certDump        `json:"certificate"`
	CertError     string           `json:"certificateError,omitempty"`
	ConfigVersion int              `json:"configVersion"`
	Config        *config.Snapshot `json:"config"`
	XDS           xds.ADSStatus    `json:"xds"`
	Workloads     string           `json:"workloadStateVersion"`
	Ready         bool             `json:"ready"`
	NotReady      []string         `json:"notReady,omitempty"`
}

type certDump struct {
	Identity  string    `json:"identity"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

func (s *status) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, r *http.Request) {
		snap, v := s.store.Snapshot()
		d := configDump{Gateway: s.gateway.String(), Pod: s.pod, Identity: s.self.String(), ConfigVersion: v, Config: snap,
			XDS: s.ads.Status(), Workloads: s.ads.Current().Version()}
		cctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
		c, err := s.cert(cctx)
		cancel()
		if err != nil {
			d.CertError = err.Error()
		} else {
			d.Certificate = &certDump{Identity: c.Identity.String(), Serial: c.Leaf.SerialNumber.String(),
				NotBefore: c.NotBefore(), NotAfter: c.NotAfter()}
		}
		d.NotReady = s.notReady(r.Context())
		d.Ready = len(d.NotReady) == 0
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d)
	})
	return mux
}

// serveHTTP serves each listener with its handler until ctx ends, then
// shuts them down (2 s) and waits.
func serveHTTP(ctx context.Context, servers map[net.Listener]http.Handler) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	all := make([]*http.Server, 0, len(servers))
	for ln, h := range servers {
		// Hardened as every ambientlab server (reliability-tests.md G5).
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
		all = append(all, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range all {
		_ = srv.Shutdown(sctx)
	}
	wg.Wait()
	return errors.Join(errs...)
}
