package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// FuzzScenarioLoad: any input yields either a scenario or a located error
// list, never a panic (reliability S1/S2).
func FuzzScenarioLoad(f *testing.F) {
	f.Add([]byte(base + scenarioHead + okProbe))
	f.Add([]byte("{{},<<}"))
	f.Add([]byte(scenarioHead + "  steps:\n  - kind: matrix\n    expect: |\n      a\n      b ok\n"))
	f.Add([]byte(scenarioHead + "  steps: [{kind: apply, manifests: \"x\"}, {kind: wait, for: duration}]\n"))
	f.Add([]byte(scenarioHead + "  steps:\n  - {kind: exec, in: a/b, command: [\"${podIP:\"]}\n"))
	if b, err := os.ReadFile(filepath.Join("library", "waypoint", "billing-api-jwt.yaml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Load("fuzz.yaml", data)
		if err == nil {
			if r == nil || r.Name == "" || len(r.Steps) == 0 || r.Manifests == nil {
				t.Fatalf("accepted an incomplete scenario: %+v", r)
			}
			return
		}
		var l manifest.ErrorList
		if !errors.As(err, &l) || len(l) == 0 {
			t.Fatalf("error is not a located list: %v", err)
		}
		for _, e := range l {
			if e.File != "fuzz.yaml" {
				t.Fatalf("error without the file: %v", e)
			}
		}
	})
}
