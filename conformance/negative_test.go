package conformance

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ambientlab/ambientlab/internal/testutil"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// negative holds the suite's outcome for the report (ReportAfterSuite);
// negativeRan says whether the spec ran (a label filter may leave it out).
var (
	negative    NegativeOutcome
	negativeRan bool
)

var _ = Describe("waypoint negative suite", func() {
	It("refuses every attack and serves every positive twin through a deployed waypoint",
		Label(NegativeProfile, "Extended", "Feature:WaypointNegative"), func(ctx context.Context) {
			bins, err := testutil.BinDir()
			Expect(err).NotTo(HaveOccurred())
			negativeRan = true
			negative, err = RunNegative(ctx, bins, func(f string, a ...any) { GinkgoWriter.Printf(f+"\n", a...) })
			if err != nil {
				negative.Results = []v1.TestResult{{Name: "WaypointNegative/deployment", Profile: NegativeProfile,
					Features: []string{FeatureNegativeAttack}, Result: v1.Failed, Message: err.Error()}}
			}
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("negative suite: %d attacks, %d twins: %d bypasses, %d false denies\n",
				negative.Attacks, negative.Twins, negative.Bypasses, negative.FalseDenies)
			var failed []string
			for _, t := range negative.Results {
				if t.Result == v1.Failed {
					failed = append(failed, t.Name+": "+t.Message)
				}
			}
			Expect(failed).To(BeEmpty(), fmt.Sprintf("%d bypasses, %d false denies", negative.Bypasses, negative.FalseDenies))
		}, SpecTimeout(10*time.Minute))
})

// negativeReportResults is what the report records for the suite: its
// results, or one skipped entry when the label filter left it out.
func negativeReportResults() []v1.TestResult {
	if negativeRan {
		return negative.Results
	}
	return []v1.TestResult{{Name: "WaypointNegative/suite", Profile: NegativeProfile, Features: []string{FeatureNegativeAttack},
		Result: v1.Skipped, Reason: v1.ReasonOf(v1.ReasonFiltered), Message: "not selected by the label filter"}}
}
