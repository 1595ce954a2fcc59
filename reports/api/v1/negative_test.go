package v1_test

import (
	"testing"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

func TestTallyNegative(t *testing.T) {
	tests := []v1.TestResult{
		{Name: "a1", Features: []string{v1.FeatureNegativeAttack, v1.FeatureNegativeDocumented}, Result: v1.Succeeded},
		{Name: "a2", Features: []string{v1.FeatureNegativeAttack}, Result: v1.Failed},
		{Name: "t1", Features: []string{v1.FeatureNegativeTwin}, Result: v1.Failed},
		{Name: "t2", Features: []string{v1.FeatureNegativeTwin}, Result: v1.Skipped},
		{Name: "other", Features: []string{"X"}, Result: v1.Failed},
	}
	got := v1.TallyNegative(tests)
	if got != (v1.NegativeTally{Attacks: 2, Twins: 2, Bypasses: 1, FalseDenies: 1, Skipped: 1, Documented: 1}) || !got.Any() {
		t.Fatalf("got %+v", got)
	}
	if v1.TallyNegative(tests[4:]).Any() {
		t.Error("non-negative results counted")
	}
}
