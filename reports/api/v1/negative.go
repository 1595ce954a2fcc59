package v1

import "slices"

// Features that mark the results of a negative (attack / positive twin)
// suite, such as the waypoint's (reliability §5 figure 1). An attack that
// fails is a bypass; a twin that fails is a false deny.
const (
	FeatureNegativeAttack = "WaypointNegativeAttack"
	FeatureNegativeTwin   = "WaypointNegativeTwin"
	// FeatureNegativeDocumented marks an attack whose expected outcome is to
	// be served, because the configuration under test (e.g. path
	// normalization BASE) documents that it does not fold that encoding.
	// Listed so nobody mistakes the count of refusals for full coverage.
	FeatureNegativeDocumented = "WaypointNegativeDocumentedPassthrough"
)

// NegativeTally counts a report's negative-suite results.
type NegativeTally struct {
	Attacks, Twins, Bypasses, FalseDenies, Skipped int
	// Documented counts attacks served by documented design (see
	// FeatureNegativeDocumented).
	Documented int
}

// Any reports whether the report holds negative-suite results.
func (n NegativeTally) Any() bool { return n.Attacks+n.Twins > 0 }

// TallyNegative counts the results marked with the negative-suite features.
func TallyNegative(tests []TestResult) NegativeTally {
	var n NegativeTally
	for _, t := range tests {
		attack, twin := slices.Contains(t.Features, FeatureNegativeAttack), slices.Contains(t.Features, FeatureNegativeTwin)
		switch {
		case attack:
			n.Attacks++
		case twin:
			n.Twins++
		default:
			continue
		}
		if attack && slices.Contains(t.Features, FeatureNegativeDocumented) {
			n.Documented++
		}
		switch {
		case t.Result == Failed && attack:
			n.Bypasses++
		case t.Result == Failed:
			n.FalseDenies++
		case t.Result.IsSkip():
			n.Skipped++
		}
	}
	return n
}
