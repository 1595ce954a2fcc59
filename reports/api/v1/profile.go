package v1

import "fmt"

// The types in this file are shared with upstream's ConformanceReport
// (sigs.k8s.io/gateway-api/conformance/apis/v1) and keep its JSON keys
// exactly, including the untagged, capitalised Statistics fields.

// Result is the conclusion for one support level of one profile.
type Result string

const (
	// Success: every test passed.
	Success Result = "success"
	// Partial: no failures, but at least one test was skipped (for any reason,
	// not-supported included), or nothing was verified at all.
	Partial Result = "partial"
	// Failure: at least one test failed.
	Failure Result = "failure"
)

// Results lists every Result from best to worst.
var Results = []Result{Success, Partial, Failure}

// ParseResult parses a Result.
//
// Result deliberately has no String or UnmarshalText method: Status embeds it
// as upstream does, so such methods would be promoted to Status and
// ExtendedStatus and hijack their printing and decoding. Validate rejects
// unknown values instead.
func ParseResult(s string) (Result, error) {
	for _, r := range Results {
		if s == string(r) {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown result %q (want one of %v)", s, Results)
}

// Worse returns the worse of r and other (failure > partial > success).
func (r Result) Worse(other Result) Result {
	rank := func(x Result) int {
		for i, y := range Results {
			if x == y {
				return i
			}
		}
		return len(Results) // unknown sorts worst, so it cannot hide a failure
	}
	if rank(other) > rank(r) {
		return other
	}
	return r
}

// ProfileReport is the result of one conformance profile (AMBIENT-L4, MESH-HTTP, …).
type ProfileReport struct {
	// Name is the profile's name.
	Name string `json:"name"`
	// Summary is one human-readable sentence ("Core tests succeeded. …").
	Summary string `json:"summary"`
	// Core holds the tests every implementation of the profile must pass.
	Core Status `json:"core"`
	// Extended holds tests of optional features; nil when none were recorded.
	Extended *ExtendedStatus `json:"extended,omitempty"`
}

// ExtendedStatus is Status plus which extended features were supported.
type ExtendedStatus struct {
	Status `json:",inline"`
	// SupportedFeatures are the extended features the implementation claims,
	// so tests for them were attempted. Sorted.
	SupportedFeatures []string `json:"supportedFeatures,omitempty"`
	// UnsupportedFeatures are the extended features it does not claim. Sorted.
	UnsupportedFeatures []string `json:"unsupportedFeatures,omitempty"`
}

// Status is the outcome of one support level.
type Status struct {
	Result     `json:"result"`
	Statistics `json:"statistics"`
	// SkippedTests names the skipped tests. Sorted in ambientlab reports.
	SkippedTests []string `json:"skippedTests,omitempty"`
	// FailedTests names the failed tests. Sorted in ambientlab reports.
	FailedTests []string `json:"failedTests,omitempty"`
}

// Statistics counts tests per bucket. The fields carry no JSON tags on
// purpose: upstream's keys are the capitalised Go names.
type Statistics struct {
	Passed  uint32
	Skipped uint32
	Failed  uint32
}

// Add counts one test outcome. Every outcome lands in exactly one bucket and a
// skip of any kind (not-supported included) is counted as Skipped, never as
// Passed. Unknown outcomes count as Failed so they cannot pass silently.
func (s *Statistics) Add(o Outcome) {
	switch {
	case o == Succeeded:
		s.Passed++
	case o.IsSkip():
		s.Skipped++
	default:
		s.Failed++
	}
}

// Total is the number of tests counted.
func (s Statistics) Total() uint32 { return s.Passed + s.Skipped + s.Failed }

// Result derives the level's conclusion: any failure is a failure; skips
// without failures, or no tests at all, are partial; otherwise success.
func (s Statistics) Result() Result {
	switch {
	case s.Failed > 0:
		return Failure
	case s.Skipped > 0 || s.Total() == 0:
		return Partial
	default:
		return Success
	}
}
