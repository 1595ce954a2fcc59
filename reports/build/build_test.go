package build

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/internal/fixture"
)

func buildFixture(t *testing.T) *v1.ConformanceReport {
	t.Helper()
	r, err := Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, fixture.Results())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildAggregatesPerProfileAndLevel(t *testing.T) {
	r := buildFixture(t)
	type level struct {
		result          v1.Result
		stats           v1.Statistics
		skipped, failed []string
	}
	want := map[string][2]*level{
		"AMBIENT-L4": {
			{v1.Failure, v1.Statistics{Passed: 1, Failed: 1}, nil, []string{"L4AuthzDenyByPrincipal"}},
			{v1.Partial, v1.Statistics{Passed: 1, Skipped: 2}, []string{"L4DualStack", "L4NativeNftables"}, nil},
		},
		"AMBIENT-L7": {
			{v1.Partial, v1.Statistics{Passed: 1, Skipped: 1}, []string{"L7WaypointForServiceCoversPods"}, nil},
			{v1.Failure, v1.Statistics{Passed: 1, Failed: 1, Skipped: 2}, []string{"L7GRPCRouting", "L7RequestMirror"}, []string{"L7Retries"}},
		},
	}
	if len(r.ProfileReports) != 2 || r.ProfileReports[0].Name != "AMBIENT-L4" || r.ProfileReports[1].Name != "AMBIENT-L7" {
		t.Fatalf("profiles = %+v, want AMBIENT-L4 then AMBIENT-L7", r.ProfileReports)
	}
	for _, p := range r.ProfileReports {
		for i, got := range []v1.Status{p.Core, p.Extended.Status} {
			w := want[p.Name][i]
			if got.Result != w.result || got.Statistics != w.stats || !slices.Equal(got.SkippedTests, w.skipped) || !slices.Equal(got.FailedTests, w.failed) {
				t.Errorf("%s level %d = %+v, want %+v", p.Name, i, got, *w)
			}
		}
	}
	l4 := r.ProfileReports[0]
	if !slices.Equal(l4.Extended.SupportedFeatures, []string{"DualStack", "ProbeSNAT"}) ||
		!slices.Equal(l4.Extended.UnsupportedFeatures, []string{"NativeNftables"}) {
		t.Errorf("AMBIENT-L4 features = %v / %v", l4.Extended.SupportedFeatures, l4.Extended.UnsupportedFeatures)
	}
	if want := "Core tests failed with 1 test failures. Extended tests partially succeeded with 2 test skips."; l4.Summary != want {
		t.Errorf("summary = %q, want %q", l4.Summary, want)
	}
	if !slices.Equal(r.SucceededProvisionalTests, []string{"L7HeaderRewrite"}) {
		t.Errorf("succeededProvisionalTests = %v", r.SucceededProvisionalTests)
	}
	if r.Verdict() != v1.Failure || r.Totals() != (v1.Statistics{Passed: 4, Failed: 2, Skipped: 5}) {
		t.Errorf("verdict %s, totals %+v", r.Verdict(), r.Totals())
	}
	if r.Date != "2026-11-20T10:30:00Z" || r.Provenance.Images[0].Name != "ghcr.io/ambientlab/waypoint:v0.4.0" {
		t.Errorf("date %q, images %v: want RFC 3339 UTC and images sorted", r.Date, r.Provenance.Images)
	}
}

func TestBuildSkipIsNeverAPass(t *testing.T) {
	results := []v1.TestResult{
		{Name: "A", Profile: "HBONE", Core: true, Result: v1.Skipped, Reason: v1.ReasonOf(v1.ReasonFiltered)},
		{Name: "B", Profile: "HBONE", Core: true, Result: v1.Skipped, Reason: v1.ReasonOf(v1.ReasonEnvUnavailable)},
	}
	r, err := Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, results)
	if err != nil {
		t.Fatal(err)
	}
	core := r.ProfileReports[0].Core
	if core.Passed != 0 || core.Skipped != 2 || core.Result != v1.Partial || r.Verdict() != v1.Partial {
		t.Errorf("all-skipped core = %+v, verdict %s; want 0 passed, 2 skipped, partial", core, r.Verdict())
	}
	if want := "Core tests partially succeeded with 2 test skips."; r.ProfileReports[0].Summary != want {
		t.Errorf("summary %q", r.ProfileReports[0].Summary)
	}
}

func TestBuildEmptyRunIsPartial(t *testing.T) {
	r, err := Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict() != v1.Partial || len(r.ProfileReports) != 0 {
		t.Errorf("a run with no tests must not read as a success: verdict %s", r.Verdict())
	}
}

func TestBuildIsIndependentOfResultOrder(t *testing.T) {
	want := buildFixture(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		results := fixture.Results()
		rng.Shuffle(len(results), func(i, j int) { results[i], results[j] = results[j], results[i] })
		got, err := Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, results)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("report depends on result order:\n%+v\n%+v", got, want)
		}
	}
}

func TestBuildDoesNotMutateInput(t *testing.T) {
	results := fixture.Results()
	prov := fixture.Provenance()
	buildFixture(t)
	if _, err := Build(fixture.Implementation(), prov, fixture.Date, results); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(results, fixture.Results()) || !reflect.DeepEqual(prov, fixture.Provenance()) {
		t.Error("Build reordered the caller's slices")
	}
}

func TestBuildRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Implementation, *v1.Provenance, *[]v1.TestResult)
		want   string
	}{
		{"skip without reason", func(_ *v1.Implementation, _ *v1.Provenance, rs *[]v1.TestResult) {
			(*rs)[3].Reason = v1.Reason{}
		}, "SKIPPED without a reason"},
		{"duplicate test", func(_ *v1.Implementation, _ *v1.Provenance, rs *[]v1.TestResult) {
			*rs = append(*rs, (*rs)[0])
		}, "duplicated"},
		{"no organization", func(i *v1.Implementation, _ *v1.Provenance, _ *[]v1.TestResult) {
			i.Organization = ""
		}, "organization cannot be empty"},
		{"no contact", func(i *v1.Implementation, _ *v1.Provenance, _ *[]v1.TestResult) {
			i.Contact = nil
		}, "contact cannot be empty"},
		{"unknown backend", func(_ *v1.Implementation, p *v1.Provenance, _ *[]v1.TestResult) {
			p.Backend = "docker"
		}, `unknown backend "docker"`},
		{"failure without message", func(_ *v1.Implementation, _ *v1.Provenance, rs *[]v1.TestResult) {
			(*rs)[1].Message = ""
		}, "needs a message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			impl, prov, results := fixture.Implementation(), fixture.Provenance(), fixture.Results()
			tt.mutate(&impl, &prov, &results)
			r, err := Build(impl, prov, fixture.Date, results)
			if err == nil || !strings.Contains(err.Error(), tt.want) || r != nil {
				t.Fatalf("Build = %v, %v; want nil and an error containing %q", r, err, tt.want)
			}
		})
	}
}
