package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/conformance/runner"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/build"
	"github.com/ambientlab/ambientlab/reports/render"
	"github.com/ambientlab/ambientlab/scenarios"
)

// Implementation is how the reference data plane names itself in reports.
var Implementation = v1.Implementation{
	Organization: "ambientlab",
	Project:      "ambientlab-reference",
	URL:          "https://github.com/ambientlab/ambientlab",
	Version:      "dev",
	Contact:      []string{"@ambientlab/maintainers"},
}

// TestResults maps runner verdicts onto report results, one per library
// scenario: a scenario that did not run (filtered by labels) is SKIPPED with
// reason filtered, so the report always accounts for the whole library.
func TestResults(library []*scenarios.Resolved, results []runner.ScenarioResult, reportDir string) []v1.TestResult {
	byName := map[string]runner.ScenarioResult{}
	for _, r := range results {
		byName[r.Name] = r
	}
	out := make([]v1.TestResult, 0, len(library))
	for _, sc := range library {
		t := v1.TestResult{Name: sc.Name, Profile: string(sc.Profile), Core: isCore(sc)}
		for _, f := range sc.Features {
			t.Features = append(t.Features, string(f))
		}
		slices.Sort(t.Features)
		r, ran := byName[sc.Name]
		if !ran {
			t.Result, t.Reason, t.Message = v1.Skipped, v1.ReasonOf(v1.ReasonFiltered), "not selected by the label filter"
			out = append(out, t)
			continue
		}
		t.Duration = v1.Duration(r.Duration)
		switch r.Result {
		case runner.Succeeded:
			t.Result = v1.Succeeded
		case runner.Failed:
			t.Result, t.Message = v1.Failed, r.Reason.Message
			if t.Message == "" {
				t.Message = r.Reason.String()
			}
		case runner.NotSupported:
			t.Result, t.Reason, t.Message = v1.NotSupported, v1.ReasonOf(v1.ReasonNotSupported), r.Reason.Message
			if t.Core {
				// A core feature cannot be declined; the scenario was not verified.
				t.Result = v1.Skipped
			}
		default:
			t.Result, t.Message = v1.Skipped, r.Reason.Message
			t.Reason = v1.ReasonOf(skipReason(r.Reason.Code))
		}
		for _, st := range r.Steps {
			t.Retries += max(st.Attempts-1, 0)
			if st.TimeToConsistency != nil && time.Duration(*st.TimeToConsistency) > time.Duration(t.TimeToConsistency) {
				t.TimeToConsistency = v1.Duration(*st.TimeToConsistency)
			}
			for _, p := range st.Probes {
				t.Evidence = append(t.Evidence, v1.Evidence{Kind: v1.EvidenceProbe, Summary: probeSummary(st, p)})
			}
		}
		if r.DumpDir != "" && reportDir != "" {
			if rel, err := filepath.Rel(reportDir, r.DumpDir); err == nil && !strings.HasPrefix(rel, "..") {
				t.Evidence = append(t.Evidence, v1.Evidence{Kind: v1.EvidenceLog, Summary: "cluster state at the failure (pods, services, container logs)", Path: rel})
			}
		}
		slices.SortFunc(t.Evidence, v1.CompareEvidence)
		t.Evidence = slices.Compact(t.Evidence)
		out = append(out, t)
	}
	return out
}

// isCore: a scenario is core when every feature it exercises is core.
func isCore(sc *scenarios.Resolved) bool {
	for _, f := range sc.Features {
		if !f.Core() {
			return false
		}
	}
	return len(sc.Features) > 0
}

func skipReason(c runner.ReasonCode) v1.ReasonClass {
	switch c {
	case runner.ReasonFiltered:
		return v1.ReasonFiltered
	case runner.ReasonEnvUnavailable:
		return v1.ReasonEnvUnavailable
	}
	return v1.ReasonNotSupported
}

func probeSummary(st runner.StepResult, p runner.ProbeEvidence) string {
	s := fmt.Sprintf("step %d %q: %s → %s: %s", st.Index, st.Name, p.From, p.Target, p.Outcome)
	if p.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", p.Status)
	}
	if p.SourceIP != "" {
		s += ", server saw " + p.SourceIP
	}
	return s
}

// WriteReport builds the ConformanceReport and writes report.yaml,
// junit.xml, summary.md and report.html into dir.
// base carries what the caller knows (backend, data plane, harness version);
// the rest of the provenance is read from the running system.
// extra holds results of specs that are not library scenarios (the waypoint
// negative suite).
func WriteReport(dir string, library []*scenarios.Resolved, results []runner.ScenarioResult, base v1.Provenance, extra ...v1.TestResult) (*v1.ConformanceReport, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base.ScenarioHash = libraryHash(library)
	prov, err := build.SystemProvenance(base)
	if err != nil {
		return nil, err
	}
	impl := Implementation
	if prov.HarnessVersion != "" {
		impl.Version = prov.HarnessVersion
	}
	rep, err := build.Build(impl, prov, time.Now().UTC(), append(TestResults(library, results, dir), extra...))
	if err != nil {
		return nil, err
	}
	return rep, render.WriteDir(dir, rep)
}

func libraryHash(library []*scenarios.Resolved) string {
	docs := map[string][]byte{}
	for _, sc := range library {
		docs[sc.Name] = []byte(sc.Hash)
	}
	return build.ScenarioHash(docs)
}
