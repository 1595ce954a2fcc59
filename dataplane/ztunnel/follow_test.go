package ztunnel

import (
	"context"
	"net/netip"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

var _ StateSource = xds.Source(nil)

type chanSource chan *workloadapi.Snapshot

func (c chanSource) Subscribe(context.Context) <-chan *workloadapi.Snapshot { return c }

// TestFollowKeepsLastState: snapshots are applied in order, and when the
// source goes away the last one keeps serving.
func TestFollowKeepsLastState(t *testing.T) {
	m := newTestMesh(t)
	n := m.newNode(t, "node-a")
	src := make(chanSource, 2)
	one := snapshot(t, []*workloadapi.Workload{workload("a", "127.0.0.2")}, nil)
	two := snapshot(t, []*workloadapi.Workload{workload("a", "127.0.0.2"), workload("b", "127.0.0.3")}, nil)
	src <- one
	src <- two
	close(src) // the control plane is gone
	n.proxy.Follow(context.Background(), src)
	if n.proxy.State() != two || !n.proxy.Ready() {
		t.Fatalf("state = %v, ready = %v; want the last snapshot, ready", n.proxy.State().Version(), n.proxy.Ready())
	}
	if _, ok := n.proxy.State().WorkloadByIP(netip.MustParseAddr("127.0.0.3")); !ok {
		t.Fatal("last snapshot lost")
	}
}
