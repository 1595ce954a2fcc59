package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
)

func TestCheckLoad(t *testing.T) {
	a := &scenarios.LoadAction{Count: 100, By: "status", Tolerance: 5,
		Distribution: []scenarios.LoadShare{{Value: "200", Percent: 50}, {Value: "503", Percent: 50}}}
	if ok, why := checkLoad(a, loadResult{Responses: 100, Values: map[string]int{"200": 47, "503": 53}}); !ok {
		t.Fatal(why)
	}
	ok, why := checkLoad(a, loadResult{Responses: 90, Values: map[string]int{"200": 45, "503": 45}, Errors: map[string]int{"connection reset": 10}})
	if ok || !strings.Contains(why, "error: 10.0%") || !strings.Contains(why, "10× connection reset") {
		t.Fatalf("errors must count against the distribution: %v %q", ok, why)
	}
	a.MinLatency = time.Second
	if ok, why := checkLoad(a, loadResult{Responses: 100, Values: map[string]int{"200": 50, "503": 50}, MinLatencyMS: 999}); ok || !strings.Contains(why, "fastest response") {
		t.Fatalf("latency floor: %v %q", ok, why)
	}
}

func TestLoadArgv(t *testing.T) {
	a := &scenarios.LoadAction{Count: 1000, Concurrency: 8, By: "field:ServiceVersion"}
	argv := loadArgv("/bin/w", a, scenarios.ProbeRequest{URL: "http://r:9080/", Method: "POST", Body: "x",
		Headers: map[string]string{"b": "2", "a": "1"}, Timeout: 2 * time.Second})
	got := strings.Join(argv, " ")
	want := "/bin/w load --url http://r:9080/ --count 1000 --concurrency 8 --timeout 2s --by field:ServiceVersion --method POST -H a: 1 -H b: 2 --data x"
	if got != want {
		t.Fatalf("argv\n got %s\nwant %s", got, want)
	}
}
