package conformance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/internal/rawhttp"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// The negative suite's plumbing without a cluster: the fixture manifest
// loads, every run is a valid raw request, a result equal to the expectation
// passes, and a deviation is reported as a bypass (attack) or a false deny
// (twin) that the report tally counts.
func TestNegativePlumbing(t *testing.T) {
	iss, err := newJWTIssuer(negIssuer, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Load("waypoint-negative.yaml", []byte(negativeManifest(iss.jwks()))); err != nil {
		t.Fatalf("fixture manifest: %v", err)
	}
	env, err := negativeEnv(iss, time.Now())
	if err != nil || env.Tokens.HS256 == "" || env.Tokens.Forged == env.Tokens.Alice {
		t.Fatalf("tokens: %v %+v", err, env.Tokens)
	}
	runs := negativeRuns(env, negDeployedMode)
	if len(runs) < 2*80 {
		t.Fatalf("only %d runs", len(runs))
	}
	got := make([]rawhttp.Result, len(runs))
	names := map[string]bool{}
	for i, r := range runs {
		if err := r.req.Validate(); err != nil {
			t.Fatalf("%s: %v", negativeName(r, negDeployedMode), err)
		}
		names[negativeName(r, negDeployedMode)] = true
		got[i] = rawhttp.Result{Statuses: r.want.Statuses, Refusal: r.want.Refusal}
		if len(r.want.Seen) > 0 {
			got[i].Body = "ServiceVersion=v1\nURL=" + r.want.Seen[0] + "\n"
			if i%2 == 0 { // httpbin paths answer JSON
				b, _ := json.Marshal(map[string]string{"url": "http://" + negAuthority + r.want.Seen[0]})
				got[i].Body = string(b)
			}
		}
	}
	if len(names) != len(runs) {
		t.Fatalf("%d runs but %d distinct names", len(runs), len(names))
	}
	results := negativeResults(runs, got, negDeployedMode, time.Second)
	if n := v1.TallyNegative(results); n.Bypasses+n.FalseDenies != 0 || n.Attacks+n.Twins != len(runs) {
		t.Fatalf("matching results tallied %+v", n)
	}
	// Flip one attack to served and one twin to denied.
	for i, r := range runs {
		if !r.twin && r.c.Name == "dot-dot segment" {
			got[i] = rawhttp.Result{Statuses: []int{200}}
		}
		if r.twin && r.c.Name == "denied method" {
			got[i] = rawhttp.Result{Statuses: []int{403}}
		}
		// A twin served with the wrong path is a failure too.
		if r.twin && r.c.Name == "dot segment" {
			got[i].Body = `{"url":"http://x/./anything"}`
		}
	}
	results = negativeResults(runs, got, negDeployedMode, time.Second)
	n := v1.TallyNegative(results)
	if n.Bypasses < 1 || n.FalseDenies < 2 {
		t.Fatalf("deviations tallied %+v", n)
	}
	for _, r := range results {
		if r.Result == v1.Failed && !strings.HasPrefix(r.Message, "bypass: ") && !strings.HasPrefix(r.Message, "false deny: ") {
			t.Errorf("%s: message %q", r.Name, r.Message)
		}
	}
}
