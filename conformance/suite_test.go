package conformance

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ambientlab/ambientlab/conformance/runner"
	"github.com/ambientlab/ambientlab/internal/testutil"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

// TestMain runs the suite inside a fresh sandbox (PID, network and mount
// namespaces), so nothing it creates can outlive it.
func TestMain(m *testing.M) {
	if sandbox.Main() {
		return
	}
	os.Exit(sandbox.RunTestsInSandbox(m))
}

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ambientlab conformance")
}

var (
	// library is loaded while the spec tree is built, so every scenario is a spec.
	library, libraryErr = scenarios.LoadLibrary()

	resultsMu sync.Mutex
	results   []runner.ScenarioResult
)

// One spec per library scenario, labelled by profile, core/extended and
// feature, so `make conformance LABELS=AMBIENT-L4` or
// LABELS='Feature:SimulatorDNS' selects a subset. Scenarios run one after
// another: every cluster uses the same address plan inside the sandbox.
var _ = Describe("ambientlab conformance", Serial, func() {
	It("loads the scenario library", Label("Core"), func() {
		Expect(libraryErr).NotTo(HaveOccurred())
		Expect(library).NotTo(BeEmpty())
	})
	for _, sc := range library {
		labels := Labels{string(sc.Profile)}
		if isCore(sc) {
			labels = append(labels, "Core")
		} else {
			labels = append(labels, "Extended")
		}
		for _, f := range sc.Features {
			labels = append(labels, "Feature:"+string(f))
		}
		It(sc.Name, labels, func() {
			bins, err := testutil.BinDir()
			Expect(err).NotTo(HaveOccurred())
			// A short state root: the mesh's unix sockets live under it and
			// socket paths are limited to 108 bytes.
			stateRoot, err := os.MkdirTemp("", "alc-")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(os.RemoveAll, stateRoot)
			// Capabilities are detected from the running cluster: mesh
			// scenarios run exactly when the ztunnels are up and ready.
			opts := runner.Options{
				WorkloadBinary: filepath.Join(bins, "ambientlab-workload"),
				StateRoot:      stateRoot,
				DumpRoot:       dumpRoot(),
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			res := runner.Run(ctx, sc, opts)
			resultsMu.Lock()
			results = append(results, res)
			resultsMu.Unlock()
			for _, st := range res.Steps {
				AddReportEntry(st.Name, ReportEntryVisibilityFailureOrVerbose, st)
			}
			switch res.Result {
			case runner.Succeeded:
			case runner.Failed:
				Fail(res.Reason.String())
			default:
				Skip(res.Reason.String())
			}
		})
	}
})

func dumpRoot() string {
	if d := os.Getenv("AMBIENTLAB_REPORT_DIR"); d != "" {
		return filepath.Join(d, "failures")
	}
	return ""
}

// The ConformanceReport (report.yaml, junit.xml, summary.md, report.html) is
// written to $AMBIENTLAB_REPORT_DIR after the suite, accounting for every
// library scenario, including those the label filter left out.
var _ = ReportAfterSuite("ConformanceReport", func(Report) {
	dir := os.Getenv("AMBIENTLAB_REPORT_DIR")
	if dir == "" || libraryErr != nil {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	rep, err := WriteReport(dir, library, results, v1.Provenance{
		HarnessVersion: os.Getenv("AMBIENTLAB_VERSION"), // the Makefile passes git describe
		Backend:        v1.BackendNetns,
		DataPlane:      "ambientlab-reference (ztunnel, istiod: xDS, CA, node agent)",
	})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("conformance report: %s (%s)\n", filepath.Join(dir, "report.yaml"), rep.Verdict())
})
