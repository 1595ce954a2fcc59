package v1

import (
	"errors"
	"fmt"
)

// Validate checks an upstream-shaped report by upstream's rules: required
// header fields, a valid Implementation, and per level a result that follows
// from the statistics (failures → failure, skips → partial, else success)
// with one listed name per failure and skip. Unlike ambientlab's report it
// cannot check counts against per-test results, which upstream lacks.
func (r *GatewayAPIConformanceReport) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if r.APIVersion != GatewayAPIGroupVersion {
		add("apiVersion is %q, want %q", r.APIVersion, GatewayAPIGroupVersion)
	}
	if r.Kind != KindConformanceReport {
		add("kind is %q, want %q", r.Kind, KindConformanceReport)
	}
	if err := r.Implementation.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := validateDate(r.Date); err != nil {
		errs = append(errs, err)
	}
	if r.GatewayAPIVersion == "" {
		add("gatewayAPIVersion cannot be empty")
	}
	if r.GatewayAPIChannel != ChannelStandard && r.GatewayAPIChannel != ChannelExperimental {
		add("gatewayAPIChannel %q is neither %s nor %s", r.GatewayAPIChannel, ChannelStandard, ChannelExperimental)
	}
	if r.Mode == "" {
		add("mode cannot be empty (use %q)", DefaultMode)
	}
	seen := map[string]bool{}
	for n, p := range r.ProfileReports {
		where := fmt.Sprintf("profiles[%d] (%s)", n, p.Name)
		if p.Name == "" || p.Summary == "" {
			add("%s: name and summary cannot be empty", where)
		}
		if seen[p.Name] {
			add("%s: duplicated", where)
		}
		seen[p.Name] = true
		errs = append(errs, checkUpstreamStatus(where+".core", p.Core)...)
		if p.Extended != nil {
			errs = append(errs, checkUpstreamStatus(where+".extended", p.Extended.Status)...)
			if err := validateSortedSet(where+".extended.supportedFeatures", p.Extended.SupportedFeatures); err != nil {
				errs = append(errs, err)
			}
			if err := validateSortedSet(where+".extended.unsupportedFeatures", p.Extended.UnsupportedFeatures); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := validateSortedSet("succeededProvisionalTests", r.SucceededProvisionalTests); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// upstreamResult is upstream's compileResults rule; unlike Statistics.Result
// it calls a level with no tests a success.
func upstreamResult(s Statistics) Result {
	switch {
	case s.Failed > 0:
		return Failure
	case s.Skipped > 0:
		return Partial
	default:
		return Success
	}
}

// UpstreamResult exposes upstream's rule for builders of the upstream report.
func UpstreamResult(s Statistics) Result { return upstreamResult(s) }

func checkUpstreamStatus(where string, s Status) []error {
	var errs []error
	if want := upstreamResult(s.Statistics); s.Result != want {
		errs = append(errs, fmt.Errorf("%s: result is %q but the statistics make it %q", where, s.Result, want))
	}
	if len(s.FailedTests) != int(s.Failed) || len(s.SkippedTests) != int(s.Skipped) {
		errs = append(errs, fmt.Errorf("%s: counts do not add up: %d failedTests for Failed=%d, %d skippedTests for Skipped=%d",
			where, len(s.FailedTests), s.Failed, len(s.SkippedTests), s.Skipped))
	}
	return errs
}
