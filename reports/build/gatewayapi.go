package build

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// IsUpstreamProfile reports whether a profile is one of Gateway API's own
// (MESH-*, GATEWAY-*), whose results may be submitted upstream.
func IsUpstreamProfile(name string) bool {
	return strings.HasPrefix(name, "MESH-") || strings.HasPrefix(name, "GATEWAY-")
}

// GatewayAPI derives upstream's ConformanceReport (gateway.networking.k8s.io/v1)
// from the upstream profiles of r, by upstream's rules rather than ours:
// NOT_SUPPORTED and PROVISIONAL_SKIPPED tests are not counted (the former
// surface as unsupportedFeatures), and a level with no counted tests is a
// success. Everything ambientlab adds (provenance, per-test results) is
// dropped. It fails when r has no upstream profile.
func GatewayAPI(r *v1.ConformanceReport, gatewayAPIVersion, channel string) (*v1.GatewayAPIConformanceReport, error) {
	var upstream []v1.TestResult
	for _, t := range r.Tests {
		if IsUpstreamProfile(t.Profile) {
			upstream = append(upstream, t)
		}
	}
	if len(upstream) == 0 {
		return nil, errors.New("no MESH-* or GATEWAY-* profile ran; there is nothing to submit upstream")
	}
	slices.SortStableFunc(upstream, v1.CompareTestResults)
	out := &v1.GatewayAPIConformanceReport{
		APIVersion:                v1.GatewayAPIGroupVersion,
		Kind:                      v1.KindConformanceReport,
		Implementation:            r.Implementation,
		Date:                      r.Date,
		GatewayAPIVersion:         gatewayAPIVersion,
		Mode:                      r.Mode,
		GatewayAPIChannel:         channel,
		SucceededProvisionalTests: v1.SucceededProvisionalTests(upstream),
	}
	for start := 0; start < len(upstream); {
		end := start
		for end < len(upstream) && upstream[end].Profile == upstream[start].Profile {
			end++
		}
		out.ProfileReports = append(out.ProfileReports, upstreamProfile(upstream[start].Profile, upstream[start:end]))
		start = end
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("build Gateway API report: %w", err)
	}
	return out, nil
}

// upstreamProfile mirrors upstream's addTestResults and compileResults.
func upstreamProfile(name string, tests []v1.TestResult) v1.ProfileReport {
	p := v1.ProfileReport{Name: name}
	for _, t := range tests {
		if t.Result == v1.NotSupported || t.Result == v1.ProvisionalSkipped {
			continue
		}
		s := &p.Core
		if !t.Core {
			if p.Extended == nil {
				p.Extended = &v1.ExtendedStatus{}
			}
			s = &p.Extended.Status
		}
		switch t.Result {
		case v1.Succeeded:
			s.Passed++
		case v1.Skipped:
			s.Skipped++
			s.SkippedTests = append(s.SkippedTests, t.Name)
		default:
			s.Failed++
			s.FailedTests = append(s.FailedTests, t.Name)
		}
	}
	p.Core.Result = v1.UpstreamResult(p.Core.Statistics)
	if p.Extended != nil {
		p.Extended.Result = v1.UpstreamResult(p.Extended.Statistics)
		p.Extended.SupportedFeatures, p.Extended.UnsupportedFeatures = v1.ExtendedFeatureSupport(tests)
	}
	p.Summary = upstreamSummary(p)
	return p
}

// upstreamSummary is upstream's buildSummary, which (unlike ours) calls an
// empty level a success.
func upstreamSummary(p v1.ProfileReport) string {
	level := func(s v1.Status) string {
		switch s.Result {
		case v1.Partial:
			return fmt.Sprintf("partially succeeded with %d test skips", s.Skipped)
		case v1.Failure:
			return fmt.Sprintf("failed with %d test failures", s.Failed)
		}
		return "succeeded"
	}
	s := "Core tests " + level(p.Core)
	if p.Extended != nil {
		s += ". Extended tests " + level(p.Extended.Status)
	}
	return s + "."
}
