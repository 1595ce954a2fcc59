package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

func TestLoadStepResolves(t *testing.T) {
	in := base + scenarioHead + `  steps:
  - kind: load
    from: demo/deploy/sleep
    url: http://httpbin.demo:8000/
    count: 1000
    concurrency: 8
    headers: {x-version: v2}
    expect:
      by: field:ServiceVersion
      distribution: {v1: 90, v2: 10}
      minLatency: 1s
`
	r, err := Load("f.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := r.Steps[0].(*LoadAction)
	if !ok {
		t.Fatalf("step is %T", r.Steps[0])
	}
	if a.Count != 1000 || a.Concurrency != 8 || a.By != "field:ServiceVersion" || a.Tolerance != 5 || a.MinLatency != time.Second ||
		len(a.Distribution) != 2 || a.Distribution[0] != (LoadShare{"v1", 90}) || a.Request.Headers["x-version"] != "v2" ||
		a.Request.Timeout != DefaultTimeouts().Probe {
		t.Fatalf("%+v", a)
	}
}

func TestLoadStepErrors(t *testing.T) {
	in := base + scenarioHead + `  steps:
  - kind: load
    from: demo/deploy/nobody
    url: ftp://httpbin.demo:8000/
    count: 200000
    concurrency: 1000
    expect:
      by: body
      distribution: {"200": 60, "503": 30}
      tolerance: 70
`
	_, err := Load("f.yaml", []byte(in))
	var l manifest.ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("not an ErrorList: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"spec.steps[0].from", "spec.steps[0].url", "spec.steps[0].count", "spec.steps[0].concurrency",
		"spec.steps[0].expect.by", "add up to 90", "spec.steps[0].expect.tolerance"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no error about %s in:\n%s", want, msg)
		}
	}
}

func TestLoadCheck(t *testing.T) {
	want := []LoadShare{{"v1", 90}, {"v2", 10}}
	for _, c := range []struct {
		name     string
		got      map[string]int
		problems int
	}{
		{"exact", map[string]int{"v1": 900, "v2": 100}, 0},
		{"within tolerance", map[string]int{"v1": 860, "v2": 140}, 0},
		{"outside tolerance", map[string]int{"v1": 840, "v2": 160}, 2},
		{"unexpected value", map[string]int{"v1": 880, "v2": 60, "v3": 60}, 1},
		{"errors count", map[string]int{"v1": 800, "v2": 100, LoadErrorValue: 100}, 2},
		{"nothing", map[string]int{}, 2},
	} {
		if p := LoadCheck(want, 5, c.got, 1000); len(p) != c.problems {
			t.Errorf("%s: %v", c.name, p)
		}
	}
}
