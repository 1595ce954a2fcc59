// Package v1 holds ambientlab's versioned report types: the ConformanceReport
// of group ambientlab.io/v1alpha1 (conventions.md §5.2) and, for the upstream
// MESH profiles, the Gateway API ConformanceReport (§5.1).
//
// The two share Implementation, ProfileReport, Status, ExtendedStatus,
// Statistics and Result, declared once here with upstream's exact JSON keys
// (capitalised Passed/Failed/Skipped included), so the upstream emission cannot
// drift from the extension. ambientlab adds per-test results with evidence and
// provenance.
//
// Rules every report obeys and Validate enforces: a skip is never counted as a
// pass; statistics count every test in exactly one bucket (skips included);
// partial is explicit; everything is sorted so reports diff cleanly.
//
// This package is types, parsing and validation only. It does not run tests,
// build reports from results (reports/build) or render them (reports/render),
// and it imports nothing else from the module.
package v1

const (
	// GroupVersion is the apiVersion of ambientlab's ConformanceReport.
	GroupVersion = "ambientlab.io/v1alpha1"
	// GatewayAPIGroupVersion is the apiVersion of upstream's ConformanceReport.
	GatewayAPIGroupVersion = "gateway.networking.k8s.io/v1"
	// KindConformanceReport is the kind of both report types.
	KindConformanceReport = "ConformanceReport"
	// DefaultMode is upstream's name for a run with no special mode.
	DefaultMode = "default"
)
