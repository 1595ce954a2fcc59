package ztunnel

import (
	"context"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// StateSource yields snapshots; dataplane/xds.Source implements it.
type StateSource interface {
	// Subscribe yields the current snapshot (once synced), then each newer
	// one, and is closed when ctx ends.
	Subscribe(ctx context.Context) <-chan *workloadapi.Snapshot
}

// Follow applies every snapshot from src with UpdateState until ctx ends or
// src closes the channel. When the control plane goes away the source
// simply stops yielding and the proxy keeps serving on the last snapshot
// (C-9: no fail-open, no flush).
func (p *Proxy) Follow(ctx context.Context, src StateSource) {
	for s := range src.Subscribe(ctx) {
		p.UpdateState(s)
	}
}
