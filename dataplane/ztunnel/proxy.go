package ztunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/lifecycle"
	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// CertificateSource supplies workload certificates; *identity.Manager
// implements it.
type CertificateSource interface {
	Certificate(ctx context.Context, id identity.Identity) (*identity.Certificate, error)
}

var _ CertificateSource = (*identity.Manager)(nil)

// Config configures a Proxy. Verifier and Certificates are required.
type Config struct {
	// Node is this ztunnel's node name (same-node fast path, logs).
	Node string
	// Logger receives operational logs; AccessLog receives one line per
	// connection (build it with NewAccessLogHandler). Both default to discard.
	Logger    *slog.Logger
	AccessLog *slog.Logger
	// Verifier checks peer certificates against the mesh roots.
	Verifier *identity.Verifier
	// Certificates returns the SVID of a local workload.
	Certificates CertificateSource
	// OriginalDst recovers the pre-REDIRECT destination of an accepted
	// connection; defaults to SO_ORIGINAL_DST (sockets.OriginalDst).
	OriginalDst func(net.Conn) (netip.AddrPort, error)
	// Picker chooses among healthy endpoints; defaults to RandomPicker.
	Picker Picker
	// HBONEPort is the port of every pod's HBONE listener (default 15008).
	HBONEPort uint16
	// ConnectTimeout bounds upstream dials and CONNECTs (default 10 s,
	// ztunnel inbound step 7).
	ConnectTimeout time.Duration
	// LazyLoadTimeout is how long a pod's connection waits for its
	// workload to appear in state (default 5 s, ztunnel src/proxy.rs:246).
	LazyLoadTimeout time.Duration
	// HBONELimits are passed to the HBONE dialer and server.
	HBONELimits hbone.Limits
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Verifier == nil || out.Certificates == nil {
		return out, errors.New("ztunnel: Config.Verifier and Config.Certificates are required")
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.AccessLog == nil {
		out.AccessLog = slog.New(slog.DiscardHandler)
	}
	if out.OriginalDst == nil {
		out.OriginalDst = originalDstOfTCP
	}
	if out.Picker == nil {
		out.Picker = RandomPicker
	}
	if out.HBONEPort == 0 {
		out.HBONEPort = PortHBONE
	}
	if out.ConnectTimeout <= 0 {
		out.ConnectTimeout = 10 * time.Second
	}
	if out.LazyLoadTimeout <= 0 {
		out.LazyLoadTimeout = 5 * time.Second
	}
	return out, nil
}

func originalDstOfTCP(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("ztunnel: original destination of a %T", c)
	}
	return sockets.OriginalDst(tc)
}

// Proxy is one node's ztunnel. Pods are served by ServePod with listeners
// the caller opened inside each pod's netns; state arrives by UpdateState.
//
// Shutdown order: Shutdown starts the drain (every pod closes its
// listeners and sends GOAWAY on inbound HBONE), waits for connections up to
// the grace period, then force-closes them; each ServePod returns once its
// connections are gone.
type Proxy struct {
	cfg       Config
	log       *slog.Logger
	accessLog *slog.Logger
	metrics   *Metrics
	conns     *connManager
	drainer   *lifecycle.Drainer

	// forceCtx ends when the drain deadline passes; every connection's
	// context is tied to it.
	forceCtx    context.Context
	forceCancel context.CancelFunc

	state     atomic.Pointer[workloadapi.Snapshot]
	haveState atomic.Bool
	// updateMu serializes UpdateState, so re-evaluation never runs against
	// an older snapshot than the one stored.
	updateMu sync.Mutex

	mu struct {
		sync.Mutex
		pods         map[string]*podProxy
		stateChanged chan struct{} // closed and replaced by UpdateState
	}
}

// New validates cfg and returns a Proxy with empty state.
func New(cfg Config) (*Proxy, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: c, log: c.Logger, accessLog: c.AccessLog, metrics: newMetrics(), drainer: lifecycle.NewDrainer()}
	p.conns = newConnManager(c.Logger)
	p.forceCtx, p.forceCancel = context.WithCancel(context.Background())
	p.state.Store(workloadapi.Empty())
	p.mu.pods = map[string]*podProxy{}
	p.mu.stateChanged = make(chan struct{})
	return p, nil
}

// Metrics returns the proxy's collectors (serve Metrics.Registry on :15020).
func (p *Proxy) Metrics() *Metrics { return p.metrics }

// State returns the current snapshot.
func (p *Proxy) State() *workloadapi.Snapshot { return p.state.Load() }

// UpdateState installs a new snapshot, then re-evaluates every live inbound
// connection against it and closes the ones it now denies (reliability
// Z8). Storing before re-evaluating pairs with connections registering
// before they decide, so no connection can miss an update. Without
// updates (control plane gone) the last snapshot keeps serving.
func (p *Proxy) UpdateState(s *workloadapi.Snapshot) {
	if s == nil {
		return
	}
	p.updateMu.Lock()
	defer p.updateMu.Unlock()
	p.state.Store(s)
	p.haveState.Store(true)
	p.mu.Lock()
	close(p.mu.stateChanged)
	p.mu.stateChanged = make(chan struct{})
	p.mu.Unlock()
	if n := p.conns.reevaluate(s); n > 0 {
		p.log.Info("closed connections denied by the new policy", "count", n, "version", s.Version())
	}
}

// awaitWorkload waits up to LazyLoadTimeout for find to succeed on the
// current state (lazy loading: a pod may connect before its workload
// arrives, ambient-semantics.md §14).
func (p *Proxy) awaitWorkload(ctx context.Context, find func(*workloadapi.Snapshot) (*workloadapi.Workload, bool)) (*workloadapi.Workload, bool) {
	timer := time.NewTimer(p.cfg.LazyLoadTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		changed := p.mu.stateChanged
		p.mu.Unlock()
		if w, ok := find(p.State()); ok {
			return w, true
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// Ready reports readiness: state received and not draining.
func (p *Proxy) Ready() bool {
	select {
	case <-p.drainer.Draining():
		return false
	default:
	}
	return p.haveState.Load()
}

// Shutdown drains: pods stop accepting and their connections get grace to
// finish before being force-closed. It reports whether the drain finished
// without forcing. ServePod calls return on their own afterwards.
func (p *Proxy) Shutdown(ctx context.Context, grace time.Duration) bool {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-p.drainer.Forced():
			p.forceCancel()
		case <-done:
		}
	}()
	graceful := p.drainer.Drain(ctx, grace)
	close(done)
	wg.Wait()
	p.forceCancel()
	return graceful
}

// pods returns the UIDs currently served, sorted.
func (p *Proxy) podUIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.mu.pods))
	for uid := range p.mu.pods {
		out = append(out, uid)
	}
	sort.Strings(out)
	return out
}

func (p *Proxy) localPod(uid string) (*podProxy, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp, ok := p.mu.pods[uid]
	return pp, ok
}
