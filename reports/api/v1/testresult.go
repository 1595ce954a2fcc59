package v1

import (
	"cmp"
	"slices"
)

// TestResult is one test's outcome in one profile: the per-test record that
// upstream's report lacks (conventions.md §5.2). A test that belongs to two
// profiles appears once per profile.
type TestResult struct {
	// Name is the test's short name (e.g. "L4AuthzDenyByPrincipal").
	Name string `json:"name"`
	// Profile is the conformance profile the result counts towards.
	Profile string `json:"profile"`
	// Core is true for the profile's core tests, false for extended ones.
	Core bool `json:"core"`
	// Features the test exercises, sorted. For a core test these are core features.
	Features []string `json:"features,omitempty"`
	// Provisional marks a test whose semantics may still change (upstream's
	// provisional tests); a passing one is listed in succeededProvisionalTests.
	Provisional bool `json:"provisional,omitempty"`
	// Result is how the test ended.
	Result Outcome `json:"result"`
	// Reason is required for every skip, optional for a failure
	// (expected-fail:<issue>), and absent for a pass.
	Reason Reason `json:"reason,omitzero"`
	// Message explains a failure (required) or a skip (optional), in one or more lines.
	Message string `json:"message,omitempty"`
	// Duration is the test's wall-clock time.
	Duration Duration `json:"duration"`
	// Retries counts attempts after the first. Retries hide flakiness, so
	// they are reported as data.
	Retries int `json:"retries,omitempty"`
	// TimeToConsistency is how long the test waited for the data plane to
	// converge (N consecutive successes) before asserting.
	TimeToConsistency Duration `json:"timeToConsistency,omitzero"`
	// EnforcedBy names the proxy that enforced the policy under test.
	EnforcedBy Proxy `json:"enforcedBy,omitempty"`
	// HandledBy lists the proxies traffic crossed, in path order (not sorted).
	HandledBy []Proxy `json:"handledBy,omitempty"`
	// Evidence backs the verdict: probe outcomes, captures, dumps. Sorted.
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Key identifies a result within a report.
func (t TestResult) Key() string { return t.Profile + "/" + t.Name }

// CompareTestResults orders results by profile, then name: the order of
// ConformanceReport.Tests.
func CompareTestResults(a, b TestResult) int {
	return cmp.Or(cmp.Compare(a.Profile, b.Profile), cmp.Compare(a.Name, b.Name))
}

// Evidence points at an artefact that supports a verdict.
type Evidence struct {
	// Kind says what the artefact is.
	Kind EvidenceKind `json:"kind"`
	// Summary says in one line what it shows ("10.0.1.4 → echo:8080 denied: policy ns/deny-all").
	Summary string `json:"summary"`
	// Path is relative to the report's directory, or an http(s) URL. Absolute
	// file paths are rejected: they differ per run and break diffs.
	Path string `json:"path,omitempty"`
	// Digest is "sha256:<64 hex>" of the artefact's bytes.
	Digest string `json:"digest,omitempty"`
}

// CompareEvidence orders evidence by kind, summary, path, digest.
func CompareEvidence(a, b Evidence) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Summary, b.Summary),
		cmp.Compare(a.Path, b.Path), cmp.Compare(a.Digest, b.Digest))
}

// Normalize sorts the result's features and evidence in place and returns it;
// HandledBy keeps its path order.
func (t *TestResult) Normalize() *TestResult {
	t.Features = slices.Clone(t.Features)
	slices.Sort(t.Features)
	t.Evidence = slices.Clone(t.Evidence)
	slices.SortFunc(t.Evidence, CompareEvidence)
	return t
}
