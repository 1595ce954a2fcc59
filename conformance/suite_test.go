package conformance

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ambientlab/ambientlab/conformance/runner"
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

	// byName holds the results the parallel run produced (BeforeSuite).
	byName map[string]runner.ScenarioResult
)

// The selected scenarios run in parallel before the specs (see
// parallel_test.go); each spec then reports its scenario's verdict with its
// evidence. Specs are labelled by profile, core/extended and feature, so
// `make conformance LABELS=AMBIENT-L4` or LABELS='Feature:SimulatorDNS'
// selects a subset.
var _ = BeforeSuite(func() {
	Expect(libraryErr).NotTo(HaveOccurred())
	list, err := selected(library, GinkgoLabelFilter())
	Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	byName, err = runAll(context.Background(), list, workers(), dumpRoot())
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("ran %d scenarios with %d workers in %s\n", len(list), workers(), time.Since(start).Round(time.Millisecond))
})

var _ = Describe("ambientlab conformance", func() {
	for _, sc := range library {
		It(sc.Name, Labels(scenarioLabels(sc)), func() {
			res, ok := byName[sc.Name]
			Expect(ok).To(BeTrue(), "scenario %s was selected but has no result", sc.Name)
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
	var results []runner.ScenarioResult
	for _, r := range byName {
		results = append(results, r)
	}
	rep, err := WriteReport(dir, library, results, v1.Provenance{
		HarnessVersion: os.Getenv("AMBIENTLAB_VERSION"), // the Makefile passes git describe
		Backend:        v1.BackendNetns,
		DataPlane:      "ambientlab-reference (ztunnel, istiod: xDS, CA, node agent)",
	}, negativeReportResults()...)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("conformance report: %s (%s)\n", filepath.Join(dir, "report.yaml"), rep.Verdict())
})
