package netns_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/sandbox"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// benchWorkers bounds concurrent AddPod calls, as sim/cluster's pool does.
const benchWorkers = 8

// buildParallel brings up nodes×pods (nodes sequentially, pods from a bounded
// worker pool) and returns the fabric; the caller closes it.
func buildParallel(ctx context.Context, nodes, pods int) (*netns.Fabric, error) {
	plan := topology.DefaultAddressPlan()
	f, err := netns.NewFabric(plan, nil)
	if err != nil {
		return nil, err
	}
	type job struct {
		n *netns.Node
		p topology.Pod
	}
	jobs := make(chan job)
	errs := make(chan error, benchWorkers)
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for j := range jobs {
				if _, err := j.n.AddPod(ctx, j.p); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	var addErr error
	for i := range nodes {
		n, err := f.AddNode(ctx, topology.Node{Name: fmt.Sprint("node-", i), Index: i, IP: plan.NodeIP(i), PodCIDR: plan.NodePodCIDR(i)})
		if err != nil {
			addErr = err
			break
		}
		for j := range pods {
			jobs <- job{n, topology.Pod{Namespace: "bench", Name: fmt.Sprintf("p-%d-%d", i, j), IP: plan.PodIP(i, j)}}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && addErr == nil {
			addErr = err
		}
	}
	if addErr != nil {
		f.Close()
		return nil, addErr
	}
	return f, nil
}

func benchmarkFabric(b *testing.B, nodes, pods int) {
	sandbox.Require(b)
	ctx := context.Background()
	for b.Loop() {
		f, err := buildParallel(ctx, nodes, pods)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	total := float64(nodes * pods * b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "pods/s")
}

// BenchmarkFabric2x10 is the "2 nodes × 10 pods ready" target (≤ 1 s),
// namespaces, links and routes only, including teardown.
func BenchmarkFabric2x10(b *testing.B) { benchmarkFabric(b, 2, 10) }

// BenchmarkFabric10x100 is the 1000-pod target (≤ 30 s), including teardown.
func BenchmarkFabric10x100(b *testing.B) { benchmarkFabric(b, 10, 100) }

// TestBuildParallelSmoke keeps the benchmark harness honest under go test.
func TestBuildParallelSmoke(t *testing.T) {
	sandbox.Require(t)
	f, err := buildParallel(context.Background(), 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := len(f.Nodes()); got != 2 {
		t.Fatalf("nodes = %d, want 2", got)
	}
	for _, n := range f.Nodes() {
		if got := len(n.Pods()); got != 10 {
			t.Errorf("%s has %d pods, want 10", n.Spec().Name, got)
		}
	}
}

// BenchmarkNewNS isolates the cost of one anonymous namespace with pod
// sysctls (the kernel's share of AddPod), create plus close.
func BenchmarkNewNS(b *testing.B) {
	sandbox.Require(b)
	for b.Loop() {
		ns, err := netns.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		ns.Close()
	}
}
