package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/sim/controlplane/ca"
)

// restartedClient is a pod created after istiod's restart, under a service
// account nobody used before, so its node's ztunnel must obtain a new
// certificate from the restarted istiod with its old bootstrap credential.
const restartedClient = `apiVersion: v1
kind: ServiceAccount
metadata: {name: latecomer, namespace: ambient-demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: latecomer, namespace: ambient-demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: latecomer}}
  template:
    metadata: {labels: {app: latecomer}}
    spec:
      serviceAccountName: latecomer
      containers:
      - name: sleep
        image: curlimages/curl
        command: ["/bin/sleep", "infinity"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin-allow-latecomer, namespace: ambient-demo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/ambient-demo/sa/latecomer"]}
`

// TestIstiodRestartKeepsIssuing kills istiod's process (SIGKILL: no
// shutdown code runs), lets the simulator restart it, and checks that the
// restarted istiod kept its root and the node bindings: the running
// ztunnels (not restarted, still holding their old bootstrap credentials
// and trust bundle) obtain a certificate for a pod created afterwards, and
// its traffic flows over mTLS with both identities.
func TestIstiodRestartKeepsIssuing(t *testing.T) {
	cfg := meshConfig(t, 2)
	ctx := context.Background()
	c, err := Up(ctx, cfg, mustLoad(t, "ambient-basic.yaml", ambientBasic(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	probe := func(from string) (string, string) {
		t.Helper()
		out, _ := run(t, c, "ambient-demo/deploy/"+from, cfg.WorkloadBinary, "probe", "--url", httpbinIP, "--timeout", "5s")
		var r struct{ Outcome, Error string }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("probe from %s: %q: %v", from, out, err)
		}
		return r.Outcome, r.Error
	}
	if got, msg := probe("sleep"); got != "ok" {
		t.Fatalf("before the restart: sleep → httpbin = %s (%s)", got, msg)
	}
	lay := c.meshLayout()
	rootBefore := mustRead(t, filepath.Join(lay.CADir(), ca.RootCertFile))
	bootBefore := mustRead(t, filepath.Join(lay.BootstrapDir(podOf(t, c, "sleep").Node), identity.BootstrapCertFile))

	old := istiodPid(t, c)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restarted := waitRestart(t, c, isIstiod, old, 20*time.Second)
	t.Logf("istiod pid %d killed, restarted as %d", old, restarted)

	if now := mustRead(t, filepath.Join(lay.CADir(), ca.RootCertFile)); !bytes.Equal(now, rootBefore) {
		t.Fatal("the restarted istiod has a new root")
	}
	if now := mustRead(t, filepath.Join(lay.BootstrapDir(podOf(t, c, "sleep").Node), identity.BootstrapCertFile)); !bytes.Equal(now, bootBefore) {
		t.Fatal("the restarted istiod reissued the node bootstrap credential")
	}

	if _, err := c.Apply(ctx, mustDecode(t, "latecomer.yaml", restartedClient)); err != nil {
		t.Fatal(err)
	}
	late := podOf(t, c, "latecomer")
	// The ztunnel may still be reconnecting to the new istiod (xDS, CA);
	// give it a few seconds, then require success.
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, msg := probe("latecomer")
		if got == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: latecomer (on %s) → httpbin = %s (%s)", late.Node, got, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
	lateID := "spiffe://cluster.local/ns/ambient-demo/sa/latecomer"
	waitLog(t, c, "istio-system/ztunnel-"+late.Node, `src.identity="`+lateID+`"`, `dst.identity="`+httpbinID+`"`,
		"connection complete", `direction="outbound"`)
	if got, msg := probe("sleep"); got != "ok" {
		t.Fatalf("after the restart: sleep → httpbin = %s (%s)", got, msg)
	}
	if got, _ := probe("notsleep"); got != "reset" {
		t.Fatalf("after the restart: notsleep → httpbin = %s, want reset (policy still enforced)", got)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
