package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func testOptions(t *testing.T) Options {
	t.Helper()
	testutil.RequireRoot(t)
	sandbox.Require(t)
	return Options{
		WorkloadBinary: filepath.Join(testutil.MustBinDir(t), "ambientlab-workload"),
		StateRoot:      shortTempDir(t),
		DumpRoot:       t.TempDir(),
	}
}

func loadLibrary(t *testing.T, names ...string) []*scenarios.Resolved {
	t.Helper()
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(testutil.RepoRoot(), "scenarios", "library", n))
	}
	rs, err := scenarios.LoadPaths(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func verdicts(rs []ScenarioResult) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Name + "=" + string(r.Result) + " ")
	}
	return b.String()
}

// TestRunSimulatorLibrary runs the simulator and failure scenarios of the
// library for real: every one must pass, with time to consistency recorded.
func TestRunSimulatorLibrary(t *testing.T) {
	opts := testOptions(t)
	list := loadLibrary(t, "simulator", "failure")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, r := range RunAll(ctx, list, opts) {
		if r.Result != Succeeded {
			t.Errorf("%s: %s: %s", r.Name, r.Result, r.Reason)
			continue
		}
		for _, s := range r.Steps {
			if (s.Kind == scenarios.StepProbe || s.Kind == scenarios.StepMatrix) && (s.TimeToConsistency == nil || s.Attempts < 1) {
				t.Errorf("%s step %q: no time to consistency recorded", r.Name, s.Name)
			}
		}
	}
}

// TestRunTwiceSameVerdicts: a fresh cluster per scenario means a second run
// gives the same verdicts, including for a scenario that changes the
// cluster mid-run and one that runs the mesh (capabilities detected).
func TestRunTwiceSameVerdicts(t *testing.T) {
	opts := testOptions(t)
	list := loadLibrary(t, "simulator/runtime-apply-delete.yaml", "simulator/reachability-matrix.yaml", "l4/deny-principal.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first, second := verdicts(RunAll(ctx, list, opts)), verdicts(RunAll(ctx, list, opts))
	want := "l4-deny-principal=SUCCEEDED reachability-matrix=SUCCEEDED runtime-apply-delete=SUCCEEDED "
	if first != want || second != want {
		t.Errorf("first run: %s\nsecond run: %s\nwant: %s", first, second, want)
	}
}

// wrongExpectation is a valid scenario whose truth table is wrong: sleep
// does reach httpbin (200), the grid says reset.
const wrongExpectation = demoHTTPBinAndSleep + `apiVersion: ambientlab.io/v1alpha1
kind: Scenario
metadata: {name: wrong-expectation}
spec:
  profile: SMOKE
  features: [SimulatorServices]
  timeouts: {maxTimeToConsistency: 1s}
  steps:
  - kind: matrix
    sources: {sleep: demo/deploy/sleep}
    targets:
      get: http://httpbin.demo:8000/get
      teapot: http://httpbin.demo:8000/status/418
    expect: |2
             get    teapot
      sleep  reset  418
`

// TestWrongExpectationFailsWithDiff: a deliberately wrong truth table fails
// the scenario with a readable grid diff, and a state dump is written.
func TestWrongExpectationFailsWithDiff(t *testing.T) {
	opts := testOptions(t)
	r, err := scenarios.Load("wrong.yaml", []byte(wrongExpectation))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := Run(ctx, r, opts)
	if res.Result != Failed {
		t.Fatalf("got %s: %s", res.Result, res.Reason)
	}
	wantDiff := `matrix mismatch: 1 of 2 cells differ (observed grid, ✗ marks a difference)
       get               teapot
sleep  200 ✗ want reset  418
  sleep → get: got 200, want reset
`
	msg := res.Reason.Message
	if !strings.HasPrefix(msg, `step 1 "matrix #1" (wrong.yaml:34): `+wantDiff) {
		t.Errorf("reason:\n%s\nwant it to start with the step and:\n%s", msg, wantDiff)
	}
	if !strings.Contains(msg, "(not 3 consecutive passes within 1s:") {
		t.Errorf("reason does not say how convergence failed:\n%s", msg)
	}
	for _, f := range []string{"pods.json", "services.json", "nodes.json", "service-rules.nft"} {
		if _, err := os.Stat(filepath.Join(res.DumpDir, f)); err != nil {
			t.Errorf("state dump: %v", err)
		}
	}
	logs, _ := os.ReadDir(filepath.Join(res.DumpDir, "logs"))
	if len(logs) < 2 {
		t.Errorf("state dump has %d container logs, want one per container", len(logs))
	}
}

// TestMeshScenarioSkipped: a scenario needing a capability the simulator
// lacks is SKIPPED with a not-supported reason naming it, before any
// cluster is created.
func TestMeshScenarioSkipped(t *testing.T) {
	list := loadLibrary(t, "l4/rogue-client.yaml")
	res := Run(context.Background(), list[0], Options{StateRoot: "/nonexistent", Capabilities: SimulatorCapabilities()})
	want := "not-supported: ztunnel not implemented yet (needed by L4AuthorizationAllow, AmbientCapture)"
	if res.Result != Skipped || res.Reason.String() != want || len(res.Steps) != 0 {
		t.Errorf("got %s %q, want SKIPPED %q", res.Result, res.Reason, want)
	}
	res = Run(context.Background(), list[0], Options{StateRoot: "/nonexistent", Capabilities: SimulatorCapabilities(), UnsupportedFeatures: []scenarios.FeatureName{scenarios.L4AuthorizationAllow}})
	if res.Result != NotSupported {
		t.Errorf("with an unsupported feature: got %s", res.Result)
	}
}
