package build

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/internal/fixture"
)

// randomResults draws a valid, unsorted result set over a few profiles.
func randomResults(rng *rand.Rand) []v1.TestResult {
	profiles := []string{"AMBIENT-L4", "AMBIENT-L7", "HBONE", "MESH-HTTP"}
	features := []string{"DualStack", "HBONE", "L4", "Mirror", "Retries", "Waypoint"}
	var out []v1.TestResult
	for n := range rng.IntN(40) {
		t := v1.TestResult{
			Name:     fmt.Sprintf("T%02d", n),
			Profile:  profiles[rng.IntN(len(profiles))],
			Core:     rng.IntN(2) == 0,
			Features: []string{features[rng.IntN(len(features))]},
			Result:   v1.Outcomes[rng.IntN(len(v1.Outcomes))],
			Duration: v1.D(time.Duration(rng.Int64N(10e9))),
			Retries:  rng.IntN(3),
		}
		switch t.Result {
		case v1.Failed:
			t.Message = "boom"
		case v1.NotSupported:
			t.Core, t.Reason = false, v1.ReasonOf(v1.ReasonNotSupported)
		case v1.Skipped, v1.ProvisionalSkipped:
			t.Reason = []v1.Reason{v1.ReasonOf(v1.ReasonFiltered), v1.ReasonOf(v1.ReasonEnvUnavailable), v1.ExpectedFail("x/y#1")}[rng.IntN(3)]
		}
		out = append(out, t)
	}
	return out
}

// TestStatisticsEqualTestsPerBucket: for any result set, every profile
// level's statistics equal the number of its tests per bucket, skips are
// never passes, and totals cover every test exactly once.
func TestStatisticsEqualTestsPerBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 500 {
		results := randomResults(rng)
		r, err := Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, results)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		type key struct {
			profile string
			core    bool
		}
		want := map[key]*v1.Statistics{}
		for _, res := range results {
			k := key{res.Profile, res.Core}
			if want[k] == nil {
				want[k] = &v1.Statistics{}
			}
			switch res.Result {
			case v1.Succeeded:
				want[k].Passed++
			case v1.Failed:
				want[k].Failed++
			default:
				want[k].Skipped++
			}
		}
		var total uint32
		for _, p := range r.ProfileReports {
			levels := map[bool]*v1.Status{true: &p.Core}
			if p.Extended != nil {
				levels[false] = &p.Extended.Status
			}
			for core, s := range levels {
				w := want[key{p.Name, core}]
				if w == nil {
					w = &v1.Statistics{}
				}
				if s.Statistics != *w {
					t.Fatalf("iteration %d: %s core=%v statistics %+v, tests per bucket %+v", iter, p.Name, core, s.Statistics, *w)
				}
				if int(s.Skipped) != len(s.SkippedTests) || int(s.Failed) != len(s.FailedTests) {
					t.Fatalf("iteration %d: %s lists disagree with counts: %+v", iter, p.Name, *s)
				}
				total += s.Total()
			}
		}
		if int(total) != len(results) {
			t.Fatalf("iteration %d: statistics cover %d tests, ran %d", iter, total, len(results))
		}
	}
}
