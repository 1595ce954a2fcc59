package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/capture"
)

// plaintextCrossNode probes httpbin on node-0 from sleep on node-1 over
// plain HTTP (no mesh) and wrongly expects no plaintext on the wire.
const plaintextCrossNode = demoHTTPBinAndSleep + `apiVersion: ambientlab.io/v1alpha1
kind: Scenario
metadata: {name: plaintext-cross-node}
spec:
  profile: SMOKE
  features: [SimulatorServices]
  cluster:
    nodes: 2
    placement:
    - {deployment: demo/httpbin, node: node-0}
    - {deployment: demo/sleep, node: node-1}
  steps:
  - kind: probe
    from: demo/deploy/sleep
    url: http://httpbin.demo:8000/get
    eventually: {consecutive: 1, timeout: 1s}
    expect:
      status: 200
      noPlaintext: true
`

// TestNoPlaintextFailsOnPlaintextCanary: with packet capture forced on, a
// cross-node plaintext probe fails its noPlaintext expectation with a
// message naming where the canary crossed fabric0, and the pcap kept as
// evidence holds it.
func TestNoPlaintextFailsOnPlaintextCanary(t *testing.T) {
	opts := testOptions(t)
	opts.Capabilities = SimulatorCapabilities()
	opts.Capabilities[scenarios.CapPacketCapture] = true
	r, err := scenarios.Load("plaintext.yaml", []byte(plaintextCrossNode))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := Run(ctx, r, opts)
	if res.Result != Failed {
		t.Fatalf("got %s (%s), want FAILED", res.Result, res.Reason)
	}
	msg := res.Reason.Message
	for _, want := range []string{"no plaintext: plaintext canary", "crossed the link", "→ 198.19.0."} {
		if !strings.Contains(msg, want) {
			t.Errorf("reason does not say %q:\n%s", want, msg)
		}
	}
	w := res.Steps[0].Probes[0].Wire
	if w == nil || w.File == "" || w.Link != "fabric0" {
		t.Fatalf("no capture evidence: %+v", w)
	}
	pkts, err := capture.ReadPcap(filepath.Join(opts.DumpRoot, w.File))
	if err != nil {
		t.Fatal(err)
	}
	if capture.NoPlaintext(pkts, []byte(w.Canary)) == nil {
		t.Errorf("the kept pcap %s does not hold the canary %s", w.File, w.Canary)
	}
}

// shortTempDir is a state root for mesh clusters: their unix sockets live
// under the state dir, and t.TempDir plus a long scenario name can exceed
// the 108-byte socket path limit.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "al-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func hboneScenario(t *testing.T, edit func(string) string) *scenarios.Resolved {
	t.Helper()
	path := filepath.Join(testutil.RepoRoot(), "scenarios", "library", "l4", "hbone-encrypted-path.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := scenarios.Load("hbone-encrypted-path.yaml", []byte(edit(string(b))))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHBONEEncryptedPathEvidence runs the library's HBONE scenario on the
// simulator with capabilities detected: the mesh is up, so it runs (not
// SKIPPED) and passes on real evidence — the path and identity from the
// ztunnels' access logs, a fabric capture where the canary is absent and
// the traffic is TLS on 15008. The same scenario expecting another identity
// fails, naming the identity the logs show.
func TestHBONEEncryptedPathEvidence(t *testing.T) {
	opts := testOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res := Run(ctx, hboneScenario(t, func(s string) string { return s }), opts)
	if res.Result != Succeeded {
		t.Fatalf("got %s: %s", res.Result, res.Reason)
	}
	p := res.Steps[0].Probes[0]
	if want := []string{"ztunnel:node-1", "ztunnel:node-0"}; !slices.Equal(p.Path, want) {
		t.Errorf("observed path %v, want %v", p.Path, want)
	}
	if p.ObservedIdentity != "spiffe://cluster.local/ns/demo/sa/sleep" || len(p.AccessLog) != 2 {
		t.Errorf("identity %q from %d access-log lines", p.ObservedIdentity, len(p.AccessLog))
	}
	if p.Wire == nil || p.Wire.File == "" || !slices.ContainsFunc(p.Wire.Flows, func(f string) bool { return strings.Contains(f, ":15008:") }) {
		t.Fatalf("capture evidence without an HBONE flow: %+v", p.Wire)
	}
	if _, err := os.Stat(filepath.Join(opts.DumpRoot, p.Wire.File)); err != nil {
		t.Errorf("pcap not kept: %v", err)
	}

	wrong := hboneScenario(t, func(s string) string {
		s = strings.Replace(s, "observedIdentity: spiffe://cluster.local/ns/demo/sa/sleep", "observedIdentity: spiffe://cluster.local/ns/demo/sa/notsleep", 1)
		return strings.Replace(s, "  - kind: probe\n", "  - kind: probe\n    eventually: {consecutive: 1, timeout: 1s}\n", 1)
	})
	res = Run(ctx, wrong, opts)
	want := "observed identity: got spiffe://cluster.local/ns/demo/sa/sleep (src.identity logged by ztunnel:node-0), want spiffe://cluster.local/ns/demo/sa/notsleep"
	if res.Result != Failed || !strings.Contains(res.Reason.Message, want) {
		t.Errorf("got %s: %s\nwant FAILED with %q", res.Result, res.Reason, want)
	}
}

// TestMeshCapabilityDecidedByCluster: a scenario requiring ztunnel whose
// cluster enrols nothing in ambient has no mesh running, so it is SKIPPED
// after setup, saying why — detection never fakes a capability.
func TestMeshCapabilityDecidedByCluster(t *testing.T) {
	opts := testOptions(t)
	doc := strings.Replace(plaintextCrossNode, "features: [SimulatorServices]", "features: [SimulatorServices]\n  requires: [ztunnel]", 1)
	r, err := scenarios.Load("no-mesh.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), r, opts)
	want := "not-supported: ztunnel not present in the running cluster: no ready ztunnel pod in istio-system"
	if res.Result != Skipped || !strings.HasPrefix(res.Reason.String(), want) || len(res.Steps) != 0 {
		t.Errorf("got %s %q, want SKIPPED %q", res.Result, res.Reason, want)
	}
}
