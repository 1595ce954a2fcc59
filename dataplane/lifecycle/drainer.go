package lifecycle

import (
	"context"
	"sync"
	"time"
)

// Drainer coordinates a graceful-then-forced shutdown of tracked work
// (connections), after ztunnel src/drain.rs and test_shutdown_forced_drain:
//
//	serving ──Drain──▶ draining ──all released──▶ drained
//	                      │
//	                   grace passed / ctx done
//	                      ▼
//	                    forced ──all released──▶ drained
//
// Work registers with Track and watches Draining (finish soon: e.g. send
// GOAWAY, stop accepting) and Forced (abort now). Track fails once draining
// has begun, so no new work starts during a drain.
type Drainer struct {
	draining chan struct{}
	forced   chan struct{}

	mu struct {
		sync.Mutex
		started bool
		active  int
		idle    chan struct{} // closed when active drops to 0 while draining
	}
	forceOnce sync.Once
}

// NewDrainer returns a Drainer in the serving state.
func NewDrainer() *Drainer {
	return &Drainer{draining: make(chan struct{}), forced: make(chan struct{})}
}

// Track registers one unit of work. It returns a release func (call it
// exactly once when the work ends) and false when a drain has started.
func (d *Drainer) Track() (release func(), ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.started {
		return func() {}, false
	}
	d.mu.active++
	var once sync.Once
	return func() { once.Do(d.release) }, true
}

func (d *Drainer) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.active--
	if d.mu.active == 0 && d.mu.idle != nil {
		close(d.mu.idle)
		d.mu.idle = nil
	}
}

// Active is the number of tracked units not yet released.
func (d *Drainer) Active() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.active
}

// Draining is closed when a drain starts.
func (d *Drainer) Draining() <-chan struct{} { return d.draining }

// Forced is closed when the grace period ends with work still active.
func (d *Drainer) Forced() <-chan struct{} { return d.forced }

// Drain starts draining, waits up to grace (or until ctx ends) for tracked
// work to finish, then closes Forced and waits for the rest to release. It
// reports whether the drain completed without forcing. Calling it twice
// waits again with the new grace.
func (d *Drainer) Drain(ctx context.Context, grace time.Duration) (graceful bool) {
	d.mu.Lock()
	if !d.mu.started {
		d.mu.started = true
		close(d.draining)
	}
	if d.mu.active == 0 {
		d.mu.Unlock()
		return true
	}
	if d.mu.idle == nil {
		d.mu.idle = make(chan struct{})
	}
	idle := d.mu.idle
	d.mu.Unlock()

	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	d.forceOnce.Do(func() { close(d.forced) })
	<-idle
	return false
}
