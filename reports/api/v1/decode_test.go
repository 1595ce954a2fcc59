package v1_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/internal/golden"
)

// TestDecodeRoundTrip pins the fixture report's YAML (also the fuzz seed)
// and proves Decode reads back exactly what was built.
func TestDecodeRoundTrip(t *testing.T) {
	want := validReport(t)
	b, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "report.yaml", b)
	got, err := v1.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the report:\n%+v\n%+v", got, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := os.ReadFile("testdata/report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, old, new, want string }{
		{"unknown field", "kind: ConformanceReport", "kind: ConformanceReport\nextra: 1", `unknown field "extra"`},
		{"unknown outcome", "result: SKIPPED", "result: PASSED", `unknown test outcome "PASSED"`},
		{"unknown reason", "reason: filtered", "reason: flaky", `unknown reason class "flaky"`},
		{"numeric duration", "duration: 2.31s", "duration: 2310", "duration"},
		{"invalid report", "  organization: ambientlab", "  organization: \"\"", "organization cannot be empty"},
		{"upstream statistics key case", "Passed: 1", "passed: 1", `unknown field "profiles[0].core.statistics.passed"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(string(good), tt.old, tt.new, 1)
			if in == string(good) {
				t.Fatalf("fixture has no %q", tt.old)
			}
			if _, err := v1.Decode([]byte(in)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
