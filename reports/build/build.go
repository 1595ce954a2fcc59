// Package build turns test results into a validated ConformanceReport:
// sorted, aggregated per profile and support level, stamped with provenance.
// It also derives upstream's Gateway API report for the MESH profiles, and
// reads provenance (Go version, kernel, harness version) from the running
// system.
//
// It does not run tests or write files: callers hand it []v1.TestResult and
// render the result with reports/render. Like every reports package it
// imports nothing from the module but reports/api.
package build

import (
	"fmt"
	"slices"
	"time"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// Build aggregates results into an ambientlab ConformanceReport and validates
// it. Results are copied and sorted (tests by profile then name, features and
// evidence within each test), so the report is the same whatever order the
// runner finished in. Per profile and support level it counts every test in
// exactly one bucket (a skip of any kind counts as Skipped, never Passed) and
// derives the result: any failure → failure; skips without failures →
// partial; all passed → success.
//
// The error lists every problem Validate found (a skip without a reason,
// duplicated tests, missing implementation fields, …); the report is nil then.
func Build(impl v1.Implementation, prov v1.Provenance, date time.Time, results []v1.TestResult) (*v1.ConformanceReport, error) {
	tests := make([]v1.TestResult, len(results))
	for n, t := range results {
		tests[n] = *t.Normalize()
	}
	slices.SortStableFunc(tests, v1.CompareTestResults)
	prov.Images = slices.Clone(prov.Images)
	slices.SortFunc(prov.Images, v1.CompareImages)
	impl.Contact = slices.Clone(impl.Contact)

	r := &v1.ConformanceReport{
		APIVersion:                v1.GroupVersion,
		Kind:                      v1.KindConformanceReport,
		Implementation:            impl,
		Date:                      date.UTC().Format(time.RFC3339),
		Mode:                      v1.DefaultMode,
		ProfileReports:            aggregate(tests),
		SucceededProvisionalTests: v1.SucceededProvisionalTests(tests),
		Provenance:                prov,
		Tests:                     tests,
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("build conformance report: %w", err)
	}
	return r, nil
}

// aggregate builds one ProfileReport per profile of tests, which must be
// sorted by profile then name; names in the lists come out sorted.
func aggregate(tests []v1.TestResult) []v1.ProfileReport {
	var out []v1.ProfileReport
	for start := 0; start < len(tests); {
		end := start
		for end < len(tests) && tests[end].Profile == tests[start].Profile {
			end++
		}
		out = append(out, profileReport(tests[start].Profile, tests[start:end]))
		start = end
	}
	return out
}

func profileReport(name string, tests []v1.TestResult) v1.ProfileReport {
	p := v1.ProfileReport{Name: name}
	for _, t := range tests {
		if t.Core {
			count(&p.Core, t)
			continue
		}
		if p.Extended == nil {
			p.Extended = &v1.ExtendedStatus{}
		}
		count(&p.Extended.Status, t)
	}
	p.Core.Result = p.Core.Statistics.Result()
	if p.Extended != nil {
		p.Extended.Result = p.Extended.Statistics.Result()
		p.Extended.SupportedFeatures, p.Extended.UnsupportedFeatures = v1.ExtendedFeatureSupport(tests)
	}
	p.Summary = summary(p)
	return p
}

func count(s *v1.Status, t v1.TestResult) {
	s.Statistics.Add(t.Result)
	switch {
	case t.Result.IsSkip():
		s.SkippedTests = append(s.SkippedTests, t.Name)
	case t.Result != v1.Succeeded:
		s.FailedTests = append(s.FailedTests, t.Name)
	}
}

// summary uses upstream's wording ("Core tests succeeded. Extended tests
// partially succeeded with 2 test skips.") so both reports read alike.
func summary(p v1.ProfileReport) string {
	s := "Core tests " + levelSummary(p.Core)
	if p.Extended != nil {
		s += ". Extended tests " + levelSummary(p.Extended.Status)
	}
	return s + "."
}

func levelSummary(s v1.Status) string {
	switch {
	case s.Total() == 0:
		return "did not run"
	case s.Result == v1.Success:
		return "succeeded"
	case s.Result == v1.Partial:
		return fmt.Sprintf("partially succeeded with %d test skips", s.Skipped)
	default:
		return fmt.Sprintf("failed with %d test failures", s.Failed)
	}
}
