package v1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRoundTrips(t *testing.T) {
	for _, o := range Outcomes {
		if p, err := ParseOutcome(o.String()); err != nil || p != o {
			t.Errorf("outcome %s: %v", o, err)
		}
	}
	for _, r := range Results {
		if p, err := ParseResult(string(r)); err != nil || p != r {
			t.Errorf("result %s: %v", r, err)
		}
	}
	for _, k := range EvidenceKinds {
		if p, err := ParseEvidenceKind(k.String()); err != nil || p != k {
			t.Errorf("evidence kind %s: %v", k, err)
		}
	}
	for _, x := range Proxies {
		if p, err := ParseProxy(x.String()); err != nil || p != x {
			t.Errorf("proxy %s: %v", x, err)
		}
	}
	for _, b := range Backends {
		if p, err := ParseBackend(b.String()); err != nil || p != b {
			t.Errorf("backend %s: %v", b, err)
		}
	}
	for _, bad := range []string{"", "succeeded", "PASSED"} {
		if _, err := ParseOutcome(bad); err == nil {
			t.Errorf("ParseOutcome(%q) accepted", bad)
		}
	}
	if _, err := ParseResult("Success"); err == nil {
		t.Error("results are lower-case, as upstream")
	}
}

func TestParseReason(t *testing.T) {
	tests := []struct {
		in      string
		want    Reason
		wantErr string
	}{
		{"", Reason{}, ""},
		{"not-supported", ReasonOf(ReasonNotSupported), ""},
		{"filtered", ReasonOf(ReasonFiltered), ""},
		{"env-unavailable", ReasonOf(ReasonEnvUnavailable), ""},
		{"expected-fail:istio/istio#57764", ExpectedFail("istio/istio#57764"), ""},
		{"expected-fail:https://github.com/istio/istio/issues/1", ExpectedFail("https://github.com/istio/istio/issues/1"), ""},
		{"expected-fail", Reason{}, "needs an issue"},
		{"expected-fail:", Reason{}, "needs an issue"},
		{"expected-fail:two words", Reason{}, "without spaces"},
		{"filtered:by-label", Reason{}, "only expected-fail takes an issue"},
		{"flaky", Reason{}, "unknown reason class"},
		{"Filtered", Reason{}, "unknown reason class"},
		{"expected-fail:" + strings.Repeat("x", 201), Reason{}, "max 200"},
	}
	for _, tt := range tests {
		got, err := ParseReason(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseReason(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.in {
			t.Errorf("ParseReason(%q) = %+v (%q), %v", tt.in, got, got.String(), err)
		}
	}
}

func TestReasonJSON(t *testing.T) {
	type doc struct {
		Reason Reason `json:"reason,omitzero"`
	}
	b, _ := json.Marshal(doc{ExpectedFail("x/y#1")})
	if string(b) != `{"reason":"expected-fail:x/y#1"}` {
		t.Errorf("marshal: %s", b)
	}
	if b, _ := json.Marshal(doc{}); string(b) != `{}` {
		t.Errorf("zero reason must be omitted: %s", b)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"reason":"flaky"}`), &d); err == nil {
		t.Error("unknown reason decoded")
	}
	if _, err := json.Marshal(doc{Reason{Class: "flaky"}}); err == nil {
		t.Error("invalid reason encoded")
	}
}

func TestStatistics(t *testing.T) {
	tests := []struct {
		outcomes []Outcome
		want     Statistics
		result   Result
	}{
		{nil, Statistics{}, Partial},
		{[]Outcome{Succeeded, Succeeded}, Statistics{Passed: 2}, Success},
		{[]Outcome{Succeeded, Skipped}, Statistics{Passed: 1, Skipped: 1}, Partial},
		{[]Outcome{NotSupported, ProvisionalSkipped}, Statistics{Skipped: 2}, Partial},
		{[]Outcome{Succeeded, Skipped, Failed}, Statistics{Passed: 1, Skipped: 1, Failed: 1}, Failure},
		{[]Outcome{"BOGUS"}, Statistics{Failed: 1}, Failure},
	}
	for _, tt := range tests {
		var s Statistics
		for _, o := range tt.outcomes {
			s.Add(o)
		}
		if s != tt.want || s.Result() != tt.result || int(s.Total()) != len(tt.outcomes) {
			t.Errorf("%v: %+v → %s, want %+v → %s", tt.outcomes, s, s.Result(), tt.want, tt.result)
		}
	}
}

func TestResultWorse(t *testing.T) {
	for _, tt := range []struct{ a, b, want Result }{
		{Success, Success, Success}, {Success, Partial, Partial}, {Partial, Success, Partial},
		{Partial, Failure, Failure}, {Failure, Success, Failure}, {Success, "bogus", "bogus"},
	} {
		if got := tt.a.Worse(tt.b); got != tt.want {
			t.Errorf("%s.Worse(%s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	b, _ := json.Marshal(D(1250 * time.Millisecond))
	if string(b) != `"1.25s"` {
		t.Errorf("marshal: %s", b)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"30s"`), &d); err != nil || d.Std() != 30*time.Second {
		t.Errorf("unmarshal: %v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`1000`), &d); err == nil {
		t.Error("integer nanoseconds accepted")
	}
}
