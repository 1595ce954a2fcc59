package cluster

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// TestDataPlaneKeepsLastConfigWithControlPlaneDown freezes istiod (SIGSTOP:
// xDS streams and the CA stop answering, without the supervisor restarting
// it) and checks that traffic between known pods keeps flowing, with the
// last policy still enforced: ztunnel serves on its last config and cached
// certificates (reliability F4).
func TestDataPlaneKeepsLastConfigWithControlPlaneDown(t *testing.T) {
	cfg := meshConfig(t, 2)
	ctx := context.Background()
	c, err := Up(ctx, cfg, mustLoad(t, "ambient-basic.yaml", ambientBasic(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	probe := func(from string) string {
		t.Helper()
		out, _ := run(t, c, "ambient-demo/deploy/"+from, cfg.WorkloadBinary, "probe", "--url", httpbinIP, "--timeout", "5s")
		var r struct{ Outcome, Error string }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("probe from %s: %q: %v", from, out, err)
		}
		return r.Outcome
	}
	// Warm: both client identities have certificates and connections were made.
	if got := probe("sleep"); got != "ok" {
		t.Fatalf("before: sleep → httpbin = %s", got)
	}
	if got := probe("notsleep"); got != "reset" {
		t.Fatalf("before: notsleep → httpbin = %s, want reset", got)
	}

	pid := istiodPid(t, c)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)

	for i := 0; i < 5; i++ {
		if got := probe("sleep"); got != "ok" {
			t.Fatalf("control plane frozen, attempt %d: sleep → httpbin = %s, want ok (last config)", i, got)
		}
		if got := probe("notsleep"); got != "reset" {
			t.Fatalf("control plane frozen, attempt %d: notsleep → httpbin = %s, want reset (last policy still enforced)", i, got)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if got := probe("sleep"); got != "ok" {
		t.Fatalf("after: sleep → httpbin = %s", got)
	}
}

// istiodPid returns the pid of istiod's container process.
func istiodPid(t *testing.T, c *Cluster) int {
	t.Helper()
	return systemPid(t, c, isIstiod)
}

func isIstiod(p topology.Pod) bool { return meshComponent(p) == componentIstiod }

// isZtunnelOf matches node's ztunnel pod.
func isZtunnelOf(node string) func(topology.Pod) bool {
	return func(p topology.Pod) bool { return meshComponent(p) == componentZtunnel && p.Node == node }
}

// systemPid returns the pid of the running container process of the pod
// that match selects.
func systemPid(t *testing.T, c *Cluster, match func(topology.Pod) bool) int {
	t.Helper()
	if pid := readyPid(c, match, 0, false); pid != 0 {
		return pid
	}
	t.Fatal("no running process for the pod")
	return 0
}

// readyPid is the pid of a running container process of the pod match
// selects, other than not, and ready if mustBeReady; 0 if there is none.
func readyPid(c *Cluster, match func(topology.Pod) bool, not int, mustBeReady bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pr := range c.pods {
		if !match(pr.pod) {
			continue
		}
		for _, ct := range pr.containers {
			ct.mu.Lock()
			running, ready, cmd := ct.running, ct.ready, ct.cmd
			ct.mu.Unlock()
			if running && (ready || !mustBeReady) && cmd.Process.Pid != not {
				return cmd.Process.Pid
			}
		}
	}
	return 0
}

// waitRestart waits until the pod match selects runs, ready, under a pid
// other than old.
func waitRestart(t *testing.T, c *Cluster, match func(topology.Pod) bool, old int, wait time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if pid := readyPid(c, match, old, true); pid != 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted and ready %s after SIGKILL of pid %d", wait, old)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
