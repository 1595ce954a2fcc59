package identity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// CertificateProvider obtains a fresh certificate for an identity, typically
// from the CA (CAClient). Implementations must honour ctx.
type CertificateProvider interface {
	Fetch(ctx context.Context, id Identity) (*Certificate, error)
}

// Errors returned by Manager.Certificate. Failures to obtain a usable
// certificate wrap ErrCertificateUnavailable together with the cause.
var (
	ErrCertificateUnavailable = errors.New("identity: certificate unavailable")
	ErrManagerClosed          = errors.New("identity: manager closed")
	ErrForgotten              = errors.New("identity: identity forgotten while waiting")
)

// ManagerOptions configures a Manager. Zero jitter values give exact,
// deterministic timings (tests); DefaultManagerOptions has production values.
type ManagerOptions struct {
	Provider CertificateProvider
	Logger   *slog.Logger
	// FetchTimeout bounds one call to Provider.Fetch.
	FetchTimeout time.Duration
	// MaxConcurrentFetches bounds in-flight Provider calls across identities
	// (ztunnel's default concurrency is 8).
	MaxConcurrentFetches int
	// InitialBackoff doubles per consecutive failure of one identity, up to
	// MaxBackoff (ztunnel: 500 ms → 150 s, per identity).
	InitialBackoff, MaxBackoff time.Duration
	// RefreshJitter delays the half-life refresh by up to this fraction of the
	// certificate lifetime, so certificates issued together do not all renew
	// together. BackoffJitter randomises each retry delay by ± this fraction
	// (ztunnel: 0.2); the result never exceeds MaxBackoff.
	RefreshJitter, BackoffJitter float64
	// Rand returns a value in [0, 1); defaults to math/rand/v2.
	Rand func() float64
}

// DefaultManagerOptions returns ztunnel-like settings for provider.
func DefaultManagerOptions(provider CertificateProvider, logger *slog.Logger) ManagerOptions {
	return ManagerOptions{
		Provider:             provider,
		Logger:               logger,
		FetchTimeout:         10 * time.Second,
		MaxConcurrentFetches: 8,
		InitialBackoff:       500 * time.Millisecond,
		MaxBackoff:           150 * time.Second,
		RefreshJitter:        0.02,
		BackoffJitter:        0.2,
	}
}

// Manager keeps one certificate per identity used on a node, the way ztunnel's
// SecretManager (src/identity/manager.rs) does:
//
//	unknown ──Prefetch/Certificate──▶ fetching ──ok──▶ available ──half life──▶ refreshing
//	                                     │                 ▲                        │
//	                                     fail              └──────────ok────────────┤
//	                                     ▼                                          fail
//	                                 unavailable ◀──not_after passed── retained (valid cert kept,
//	                                 (retry w/ backoff)                retry with backoff)
//
// Forget drops an identity and stops its refresh. Each identity has one
// worker goroutine owned by the Manager; Close stops them all and waits.
type Manager struct {
	opts   ManagerOptions
	log    *slog.Logger
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		closed  bool
		entries map[Identity]*entry
	}
}

// entry is one identity's state. Fields below the line are guarded by
// Manager.mu.
type entry struct {
	cancel context.CancelFunc
	ready  chan struct{} // closed after the first fetch attempt finishes
	stop   chan struct{} // closed by Forget/Close

	cert     *Certificate // last good certificate, nil when none is usable
	err      error        // last failure when cert is nil
	attempts int          // completed fetch attempts, for observability
}

// NewManager validates opts and returns a running Manager.
func NewManager(opts ManagerOptions) (*Manager, error) {
	if opts.Provider == nil {
		return nil, errors.New("identity: NewManager: nil Provider")
	}
	if opts.FetchTimeout <= 0 || opts.MaxConcurrentFetches <= 0 || opts.InitialBackoff <= 0 || opts.MaxBackoff < opts.InitialBackoff {
		return nil, fmt.Errorf("identity: NewManager: invalid timings %+v", opts)
	}
	if opts.RefreshJitter < 0 || opts.RefreshJitter > 0.5 || opts.BackoffJitter < 0 || opts.BackoffJitter >= 1 {
		return nil, errors.New("identity: NewManager: jitter fractions out of range")
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: log, sem: make(chan struct{}, opts.MaxConcurrentFetches)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.entries = make(map[Identity]*entry)
	return m, nil
}

// Certificate returns a currently valid certificate for id, starting a fetch
// if id is not yet known. It waits for the first fetch attempt at most until
// ctx is done. Once an attempt has failed and no valid certificate is held,
// it fails at once (fail closed) while the Manager keeps retrying.
func (m *Manager) Certificate(ctx context.Context, id Identity) (*Certificate, error) {
	if !id.Valid() {
		return nil, fmt.Errorf("%w: %w", ErrCertificateUnavailable, ErrInvalidIdentity)
	}
	m.mu.Lock()
	e, err := m.entryLocked(id)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-e.ready:
	case <-e.stop:
		return nil, ErrForgotten
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrCertificateUnavailable, id, ctx.Err())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.cert != nil && time.Now().Before(e.cert.NotAfter()) {
		return e.cert, nil
	}
	cause := e.err
	if cause == nil {
		cause = errors.New("certificate expired")
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrCertificateUnavailable, id, cause)
}

// Prefetch starts fetching id in the background if it is not yet known,
// e.g. when a pod with that service account is scheduled onto the node.
func (m *Manager) Prefetch(id Identity) error {
	if !id.Valid() {
		return ErrInvalidIdentity
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.entryLocked(id)
	return err
}

// Forget drops id's certificate and stops refreshing it, e.g. when the last
// pod using that service account leaves the node. Unknown ids are ignored.
func (m *Manager) Forget(id Identity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.mu.entries[id]; ok {
		delete(m.mu.entries, id)
		e.cancel()
		close(e.stop)
		m.log.Debug("certificate forgotten", "identity", id.String())
	}
}

// Identities lists the identities currently managed, sorted.
func (m *Manager) Identities() []Identity {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Identity, 0, len(m.mu.entries))
	for id := range m.mu.entries {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b Identity) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

// Close stops every worker and waits for them. Later calls fail with
// ErrManagerClosed. Close is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if !m.mu.closed {
		m.mu.closed = true
		for id, e := range m.mu.entries {
			delete(m.mu.entries, id)
			close(e.stop)
		}
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	return nil
}

// entryLocked returns id's entry, creating it and starting its worker.
// Caller must hold m.mu.
func (m *Manager) entryLocked(id Identity) (*entry, error) {
	if m.mu.closed {
		return nil, ErrManagerClosed
	}
	if e, ok := m.mu.entries[id]; ok {
		return e, nil
	}
	ctx, cancel := context.WithCancel(m.ctx)
	e := &entry{cancel: cancel, ready: make(chan struct{}), stop: make(chan struct{})}
	m.mu.entries[id] = e
	m.wg.Add(1)
	go m.runIdentity(ctx, id, e)
	return e, nil
}

// runIdentity fetches, publishes and reschedules one identity until its
// context ends (Forget or Close).
func (m *Manager) runIdentity(ctx context.Context, id Identity, e *entry) {
	defer m.wg.Done()
	defer e.cancel()
	failures := 0
	for {
		cert, err := m.fetchOnce(ctx, id)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		var next time.Time
		m.mu.Lock()
		e.attempts++
		switch {
		case err == nil:
			failures = 0
			e.cert, e.err = cert, nil
			next = cert.RefreshAt().Add(time.Duration(m.opts.RefreshJitter * m.opts.Rand() * float64(cert.Lifetime())))
			// A certificate already past its half life (e.g. an old one
			// from a cache) must not cause a refresh storm.
			next = later(next, now.Add(m.opts.InitialBackoff))
			m.log.Debug("certificate issued", "identity", id.String(), "not_after", cert.NotAfter(), "refresh_at", next)
		case e.cert != nil && now.Before(e.cert.NotAfter()):
			// Keep serving the still-valid certificate (istio#56452), but
			// retry no later than its expiry, where it is dropped.
			next = earlier(now.Add(m.backoff(failures)), e.cert.NotAfter())
			failures++
			m.log.Info("certificate refresh failed; retaining valid certificate",
				"identity", id.String(), "error", err, "not_after", e.cert.NotAfter(), "retry_at", next)
		default:
			if e.cert != nil {
				m.log.Warn("certificate expired; failing closed", "identity", id.String(), "not_after", e.cert.NotAfter())
			}
			next = now.Add(m.backoff(failures))
			failures++
			e.cert, e.err = nil, err
			m.log.Warn("certificate fetch failed; no valid certificate", "identity", id.String(), "error", err, "retry_at", next)
		}
		select {
		case <-e.ready:
		default:
			close(e.ready)
		}
		m.mu.Unlock()

		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// fetchOnce makes one bounded provider call, holding a concurrency slot.
func (m *Manager) fetchOnce(ctx context.Context, id Identity) (*Certificate, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-m.sem }()
	fctx, cancel := context.WithTimeout(ctx, m.opts.FetchTimeout)
	defer cancel()
	cert, err := m.opts.Provider.Fetch(fctx, id)
	switch {
	case err != nil:
		return nil, err
	case cert == nil:
		return nil, errors.New("provider returned no certificate")
	case cert.Identity != id:
		// Never cache a certificate for someone else (ztunnel SanError).
		return nil, fmt.Errorf("provider returned %s for %s", cert.Identity, id)
	}
	return cert, nil
}

// backoff is the delay after the (failures+1)-th consecutive failure:
// InitialBackoff·2^failures, jittered, never above MaxBackoff.
func (m *Manager) backoff(failures int) time.Duration {
	d := m.opts.InitialBackoff
	for i := 0; i < failures && d < m.opts.MaxBackoff; i++ {
		d *= 2
	}
	if j := m.opts.BackoffJitter; j > 0 {
		d = time.Duration(float64(d) * (1 + j*(2*m.opts.Rand()-1)))
	}
	return min(d, m.opts.MaxBackoff)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
