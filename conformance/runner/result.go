package runner

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
)

// Result is the closed set of verdicts, as in Gateway API conformance. A
// skip is never a pass.
type Result string

const (
	Succeeded Result = "SUCCEEDED"
	Failed    Result = "FAILED"
	// Skipped: the scenario was not run; Reason says why (e.g. the backend
	// lacks a capability it needs).
	Skipped Result = "SKIPPED"
	// NotSupported: the run was told the implementation does not support one
	// of the scenario's features (Options.UnsupportedFeatures).
	NotSupported Result = "NOT_SUPPORTED"
)

// Results lists every verdict.
var Results = []Result{Succeeded, Failed, Skipped, NotSupported}

func (r Result) String() string { return string(r) }

// ParseResult parses a verdict.
func ParseResult(s string) (Result, error) {
	for _, r := range Results {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown result %q", s)
}

// ReasonCode is the closed set of reasons of conventions.md §5.2.
type ReasonCode string

const (
	ReasonNone           ReasonCode = ""
	ReasonNotSupported   ReasonCode = "not-supported"
	ReasonFiltered       ReasonCode = "filtered"
	ReasonEnvUnavailable ReasonCode = "env-unavailable"
	// ReasonFailed accompanies FAILED: which step and why.
	ReasonFailed ReasonCode = "failed"
)

// Reason explains a verdict other than SUCCEEDED.
type Reason struct {
	Code    ReasonCode `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
}

func (r Reason) String() string {
	switch {
	case r.Code == ReasonNone:
		return r.Message
	case r.Message == "":
		return string(r.Code)
	}
	return string(r.Code) + ": " + r.Message
}

// Duration marshals as a Go duration string, so reports read "1.25s".
type Duration time.Duration

// MarshalJSON renders the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON parses the text form.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// ScenarioResult is the verdict and evidence of one scenario run.
type ScenarioResult struct {
	Name     string                  `json:"name"`
	File     string                  `json:"file"`
	Hash     string                  `json:"scenarioHash"`
	Profile  scenarios.Profile       `json:"profile"`
	Features []scenarios.FeatureName `json:"features"`
	Result   Result                  `json:"result"`
	Reason   Reason                  `json:"reason,omitzero"`
	// Missing lists the capabilities the backend lacks (SKIPPED).
	Missing  []scenarios.Capability `json:"missingCapabilities,omitempty"`
	Duration Duration               `json:"duration"`
	Steps    []StepResult           `json:"steps,omitempty"`
	// DumpDir holds the cluster state captured at a failure.
	DumpDir string `json:"dumpDir,omitempty"`
}

// StepResult is one step's verdict and evidence.
type StepResult struct {
	Index    int                `json:"index"`
	Kind     scenarios.StepKind `json:"kind"`
	Name     string             `json:"name"`
	Line     int                `json:"line"`
	Result   Result             `json:"result"`
	Message  string             `json:"message,omitempty"`
	Duration Duration           `json:"duration"`
	// Attempts counts tries of a converging check; TimeToConsistency is
	// when the final streak of passes began, measured from the step's start.
	Attempts          int       `json:"attempts,omitempty"`
	TimeToConsistency *Duration `json:"timeToConsistency,omitempty"`
	// Output is what apply/delete printed, or an exec's stdout (truncated).
	Output string `json:"output,omitempty"`
	// Probes are the last observed probe results (one per matrix cell).
	Probes []ProbeEvidence `json:"probes,omitempty"`
}

// ProbeEvidence is one observed probe, as the client reported it.
type ProbeEvidence struct {
	From      string            `json:"from"`
	Target    string            `json:"target"`
	Outcome   scenarios.Outcome `json:"outcome"`
	Status    int               `json:"status,omitempty"`
	Latency   float64           `json:"latencyMs"`
	Error     string            `json:"error,omitempty"`
	SourceIP  string            `json:"observedSourceIP,omitempty"`
	LocalAddr string            `json:"localAddr,omitempty"`
	// Path and ObservedIdentity are read from the ztunnels' access logs,
	// AccessLog holds the matching lines (expectations path, observedIdentity).
	Path             []string `json:"observedPath,omitempty"`
	ObservedIdentity string   `json:"observedIdentity,omitempty"`
	AccessLog        []string `json:"accessLog,omitempty"`
	// Wire is the fabric capture taken around the probe (noPlaintext).
	Wire *WireEvidence `json:"wire,omitempty"`
}

// Summary counts verdicts.
type Summary struct {
	Succeeded, Failed, Skipped, NotSupported int
}

// Summarize counts the verdicts of results.
func Summarize(results []ScenarioResult) Summary {
	var s Summary
	for _, r := range results {
		switch r.Result {
		case Succeeded:
			s.Succeeded++
		case Failed:
			s.Failed++
		case Skipped:
			s.Skipped++
		case NotSupported:
			s.NotSupported++
		}
	}
	return s
}
