package lifecycle

import (
	"context"
	"sync"
)

// Group runs goroutines that all stop when its context ends. Wait returns
// once every goroutine started with Go has returned.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewGroup returns a Group whose context is derived from parent.
func NewGroup(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is the group's context; it ends on Stop or when the parent ends.
func (g *Group) Context() context.Context { return g.ctx }

// Go runs fn on a new goroutine owned by the group. The Add happens here,
// before the goroutine starts, so Wait never misses it.
func (g *Group) Go(fn func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
	}()
}

// Stop cancels the group's context. It does not wait.
func (g *Group) Stop() { g.cancel() }

// Wait blocks until every goroutine has returned.
func (g *Group) Wait() { g.wg.Wait() }

// StopAndWait is Stop then Wait.
func (g *Group) StopAndWait() {
	g.cancel()
	g.wg.Wait()
}
