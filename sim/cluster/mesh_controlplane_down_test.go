package cluster

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
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
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pr := range c.pods {
		if meshComponent(pr.pod) != componentIstiod {
			continue
		}
		for _, ct := range pr.containers {
			ct.mu.Lock()
			running, cmd := ct.running, ct.cmd
			ct.mu.Unlock()
			if running {
				return cmd.Process.Pid
			}
		}
	}
	t.Fatal("no running istiod")
	return 0
}
