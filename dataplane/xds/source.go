package xds

import (
	"context"
	"sync"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// Type URLs ztunnel subscribes to (ztunnel `src/xds.rs` ADDRESS_TYPE,
// AUTHORIZATION_TYPE).
const (
	TypeAddress       = "type.googleapis.com/istio.workload.Address"
	TypeAuthorization = "type.googleapis.com/istio.security.Authorization"
)

// Source supplies configuration snapshots to a proxy.
type Source interface {
	// Current returns the newest snapshot: workloadapi.Empty() until Synced.
	Current() *workloadapi.Snapshot
	// Synced is closed once the first complete configuration has arrived
	// (ztunnel reports ready only after its initial xDS sync).
	Synced() <-chan struct{}
	// Subscribe returns a channel that yields the current snapshot (once
	// synced) and then each newer one. It buffers only the newest: a slow
	// reader skips intermediate snapshots, never blocks the source. The
	// channel is closed when ctx is done.
	Subscribe(ctx context.Context) <-chan *workloadapi.Snapshot
}

// broadcaster is the shared Source plumbing: the current snapshot and the
// subscribers to notify when it changes.
type broadcaster struct {
	mu       sync.Mutex
	cur      *workloadapi.Snapshot
	synced   bool
	syncedCh chan struct{}
	subs     map[chan *workloadapi.Snapshot]struct{}
}

func newBroadcaster() *broadcaster {
	return &broadcaster{cur: workloadapi.Empty(), syncedCh: make(chan struct{}), subs: map[chan *workloadapi.Snapshot]struct{}{}}
}

func (b *broadcaster) Current() *workloadapi.Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

func (b *broadcaster) Synced() <-chan struct{} { return b.syncedCh }

func (b *broadcaster) Subscribe(ctx context.Context) <-chan *workloadapi.Snapshot {
	ch := make(chan *workloadapi.Snapshot, 1)
	b.mu.Lock()
	if ctx.Err() != nil {
		b.mu.Unlock()
		close(ch)
		return ch
	}
	b.subs[ch] = struct{}{}
	if b.synced {
		ch <- b.cur
	}
	b.mu.Unlock()
	// AfterFunc runs (and ends) only when ctx is done: no goroutine to own.
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, ch)
		close(ch)
	})
	return ch
}

// publish installs s as current, marks the source synced and notifies.
func (b *broadcaster) publish(s *workloadapi.Snapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur = s
	if !b.synced {
		b.synced = true
		close(b.syncedCh)
	}
	for ch := range b.subs {
		select { // replace an unread older snapshot with the newest
		case <-ch:
		default:
		}
		ch <- s
	}
}
