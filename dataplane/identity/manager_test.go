package identity

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeCA issues real certificates of a fixed lifetime starting "now" (the
// synctest clock), or fails while down. It records the time of each call.
type fakeCA struct {
	t        testing.TB
	pki      *testPKI
	lifetime time.Duration
	start    time.Time

	mu       sync.Mutex
	down     bool
	hang     bool
	wrongID  bool
	attempts []time.Duration
}

func (f *fakeCA) Fetch(ctx context.Context, id Identity) (*Certificate, error) {
	f.mu.Lock()
	f.attempts = append(f.attempts, time.Since(f.start))
	down, hang, wrong := f.down, f.hang, f.wrongID
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if down {
		return nil, errors.New("CA unavailable")
	}
	if wrong {
		id.ServiceAccount += "-other"
	}
	now := time.Now().Truncate(time.Second) // what X.509 can encode
	tmpl := f.pki.leafTemplate(id.String())
	tmpl.NotBefore, tmpl.NotAfter = now, now.Add(f.lifetime)
	chain, k := f.pki.issue(f.t, tmpl, nil, nil)
	return NewCertificate(k, chain)
}

func (f *fakeCA) set(fn func(*fakeCA)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *fakeCA) calls() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attempts)
}

func newFakeCA(t testing.TB, lifetime time.Duration) *fakeCA {
	return &fakeCA{t: t, pki: newPKI(t, "cluster.local", time.Now()), lifetime: lifetime, start: time.Now()}
}

func exactOptions(p CertificateProvider) ManagerOptions {
	o := DefaultManagerOptions(p, nil)
	o.RefreshJitter, o.BackoffJitter = 0, 0
	return o
}

func newTestManager(t *testing.T, o ManagerOptions) *Manager {
	t.Helper()
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var cartID = Identity{"cluster.local", "shop", "cart"}

func secs(fs ...float64) []time.Duration {
	out := make([]time.Duration, len(fs))
	for i, f := range fs {
		out[i] = time.Duration(f * float64(time.Second))
	}
	return out
}

// TestManagerRefreshAtHalfLife is C3: a 60 s certificate is refreshed at
// exactly 30 s after issuance for 10 lifetimes, and a caller asking every
// second is never refused.
func TestManagerRefreshAtHalfLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := newFakeCA(t, time.Minute)
		m := newTestManager(t, exactOptions(ca))
		var prev *Certificate
		rotations := 0
		for range 600 {
			c, err := m.Certificate(t.Context(), cartID)
			if err != nil {
				t.Fatalf("at %s: %v", time.Since(ca.start), err)
			}
			if !c.ValidAt(time.Now()) {
				t.Fatalf("handed out a certificate outside its window at %s", time.Since(ca.start))
			}
			if prev != nil && c != prev {
				rotations++
			}
			prev = c
			time.Sleep(time.Second)
		}
		synctest.Wait() // the 600 s refresh fires together with the last Sleep
		var want []time.Duration
		for i := range 21 { // 0 s … 600 s inclusive
			want = append(want, time.Duration(i)*30*time.Second)
		}
		if got := ca.calls(); !slices.Equal(got, want) {
			t.Fatalf("fetch times %v, want %v", got, want)
		}
		if rotations != 19 {
			t.Fatalf("%d rotations seen, want 19", rotations)
		}
	})
}

// TestManagerRetentionBackoffAndFailClosed is C4/G4: the CA goes down before
// half life; the valid certificate is kept until not_after with retries
// 500 ms, 1 s, 2 s, ... (clamped to not_after), then the manager fails
// closed, backs off up to 150 s, and recovers on the first retry after the
// CA returns.
func TestManagerRetentionBackoffAndFailClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := newFakeCA(t, time.Minute)
		m := newTestManager(t, exactOptions(ca))
		first, err := m.Certificate(t.Context(), cartID)
		if err != nil {
			t.Fatal(err)
		}
		ca.set(func(f *fakeCA) { f.down = true })

		time.Sleep(59*time.Second + 999*time.Millisecond)
		if c, err := m.Certificate(t.Context(), cartID); err != nil || c != first {
			t.Fatalf("just before not_after: %v %v, want the retained certificate", c, err)
		}
		time.Sleep(time.Millisecond) // exactly not_after
		synctest.Wait()
		if _, err := m.Certificate(t.Context(), cartID); !errors.Is(err, ErrCertificateUnavailable) {
			t.Fatalf("at not_after: %v, want fail closed", err)
		}

		time.Sleep(584*time.Second - 60*time.Second + time.Second)
		want := secs(0, 30, 30.5, 31.5, 33.5, 37.5, 45.5, 60, 92, 156, 284, 434, 584)
		if got := ca.calls(); !slices.Equal(got, want) {
			t.Fatalf("fetch times\n got %v\nwant %v", got, want)
		}
		ca.set(func(f *fakeCA) { f.down = false })
		time.Sleep(150 * time.Second) // next retry at 734 s
		c, err := m.Certificate(t.Context(), cartID)
		if err != nil || c == first {
			t.Fatalf("after recovery: %v", err)
		}
		if got := ca.calls(); got[len(got)-1] != 734*time.Second {
			t.Fatalf("recovered at %s, want 734s", got[len(got)-1])
		}
		// Backoff reset: the next refresh is at half life again.
		time.Sleep(30 * time.Second)
		if got := ca.calls(); got[len(got)-1] != 764*time.Second {
			t.Fatalf("refresh after recovery at %s, want 764s", got[len(got)-1])
		}
	})
}

// TestManagerCallerBoundedByContext: a hung CA never holds a caller past
// its context, and each attempt is bounded by FetchTimeout.
func TestManagerCallerBoundedByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := newFakeCA(t, time.Minute)
		ca.set(func(f *fakeCA) { f.hang = true })
		m := newTestManager(t, exactOptions(ca))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := m.Certificate(ctx, cartID)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("err %v after %s", err, time.Since(start))
		}
		// The attempt times out at 10 s, then retries after 500 ms.
		time.Sleep(11 * time.Second)
		if got, want := ca.calls(), secs(0, 10.5); !slices.Equal(got, want) {
			t.Fatalf("attempts %v, want %v", got, want)
		}
		if _, err := m.Certificate(t.Context(), cartID); !errors.Is(err, ErrCertificateUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("after a timed-out attempt: %v", err)
		}
	})
}

func TestManagerForgetPrefetchClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := newFakeCA(t, time.Minute)
		m := newTestManager(t, exactOptions(ca))
		pay := Identity{"cluster.local", "shop", "pay"}
		if err := m.Prefetch(cartID); err != nil {
			t.Fatal(err)
		}
		if err := m.Prefetch(pay); err != nil {
			t.Fatal(err)
		}
		if err := m.Prefetch(Identity{}); err == nil {
			t.Fatal("prefetch of an invalid identity")
		}
		synctest.Wait()
		if got := len(ca.calls()); got != 2 {
			t.Fatalf("%d prefetches", got)
		}
		if ids := m.Identities(); len(ids) != 2 || ids[0] != cartID {
			t.Fatalf("identities %v", ids)
		}
		m.Forget(pay)
		m.Forget(pay) // idempotent
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		// Only cart keeps refreshing: 2 initial + 20 refreshes of cart.
		if got := len(ca.calls()); got != 22 {
			t.Fatalf("%d fetches after forgetting pay, want 22", got)
		}
		// A waiter on an identity that is forgotten is released.
		ca.set(func(f *fakeCA) { f.hang = true })
		errc := make(chan error, 1)
		go func() { _, err := m.Certificate(t.Context(), pay); errc <- err }()
		synctest.Wait()
		m.Forget(pay)
		if err := <-errc; !errors.Is(err, ErrForgotten) {
			t.Fatalf("waiter: %v", err)
		}
		m.Close()
		if _, err := m.Certificate(t.Context(), cartID); !errors.Is(err, ErrManagerClosed) {
			t.Fatalf("after Close: %v", err)
		}
	})
}

func TestManagerRefusesWrongIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := newFakeCA(t, time.Minute)
		ca.set(func(f *fakeCA) { f.wrongID = true })
		m := newTestManager(t, exactOptions(ca))
		if _, err := m.Certificate(t.Context(), cartID); !errors.Is(err, ErrCertificateUnavailable) {
			t.Fatalf("certificate for another identity accepted: %v", err)
		}
	})
}

// TestManagerJitterBounds: with production jitter, refreshes stay within
// [50%, 52%] of the lifetime and retry delays within ±20%, capped at 150 s.
func TestManagerJitterBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := newFakeCA(t, 100*time.Second)
		o := DefaultManagerOptions(ca, nil)
		m := newTestManager(t, o)
		if _, err := m.Certificate(t.Context(), cartID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1000 * time.Second)
		calls := ca.calls()
		for i := 1; i < len(calls); i++ {
			// The previous certificate's not_before is the previous
			// call time truncated to the second.
			gap := calls[i] - calls[i-1].Truncate(time.Second)
			if gap < 50*time.Second || gap > 52*time.Second {
				t.Fatalf("refresh gap %s outside [50s, 52s]", gap)
			}
		}
		for failures := range 12 {
			base := min(500*time.Millisecond<<failures, 150*time.Second)
			for range 50 {
				d := m.backoff(failures)
				if d > 150*time.Second || float64(d) < 0.8*float64(base) || float64(d) > 1.2*float64(base) {
					t.Fatalf("backoff(%d) = %s, base %s", failures, d, base)
				}
			}
		}
	})
}

func TestNewManagerValidates(t *testing.T) {
	ca := newFakeCA(t, time.Minute)
	for _, mut := range []func(*ManagerOptions){
		func(o *ManagerOptions) { o.Provider = nil },
		func(o *ManagerOptions) { o.FetchTimeout = 0 },
		func(o *ManagerOptions) { o.MaxBackoff = time.Millisecond },
		func(o *ManagerOptions) { o.RefreshJitter = 0.9 },
		func(o *ManagerOptions) { o.BackoffJitter = -1 },
	} {
		o := DefaultManagerOptions(ca, nil)
		mut(&o)
		if _, err := NewManager(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}
