package v1

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Gateway API release channels.
const (
	ChannelStandard     = "standard"
	ChannelExperimental = "experimental"
)

// Validate checks the whole report and returns every problem, not only the
// first: header and provenance, each test, the order of tests and profiles,
// and that every profile's statistics, result and test lists agree with
// Tests (a skip counts as Skipped, never as Passed).
func (r *ConformanceReport) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if r.APIVersion != GroupVersion {
		add("apiVersion is %q, want %q", r.APIVersion, GroupVersion)
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
	if r.Mode == "" {
		add("mode cannot be empty (use %q)", DefaultMode)
	}
	if (r.GatewayAPIVersion == "") != (r.GatewayAPIChannel == "") {
		add("gatewayAPIVersion and gatewayAPIChannel are set together or not at all")
	}
	if r.GatewayAPIChannel != "" && r.GatewayAPIChannel != ChannelStandard && r.GatewayAPIChannel != ChannelExperimental {
		add("gatewayAPIChannel %q is neither %s nor %s", r.GatewayAPIChannel, ChannelStandard, ChannelExperimental)
	}
	if err := r.Provenance.Validate(); err != nil {
		errs = append(errs, err)
	}
	for n := range r.Tests {
		t := &r.Tests[n]
		if err := t.Validate(); err != nil {
			add("tests[%d] (%s): %w", n, t.Key(), err)
		}
		if n > 0 && CompareTestResults(r.Tests[n-1], *t) >= 0 {
			add("tests[%d] (%s): not sorted by profile then name, or duplicated", n, t.Key())
		}
	}
	errs = append(errs, r.validateProfiles()...)
	if want := succeededProvisional(r.Tests); !equalStrings(r.SucceededProvisionalTests, want) {
		add("succeededProvisionalTests is %v but the tests say %v", r.SucceededProvisionalTests, want)
	}
	return errors.Join(errs...)
}

// levelTally is what one support level must report, recomputed from Tests.
type levelTally struct {
	stats           Statistics
	skipped, failed []string
}

func (l *levelTally) add(t TestResult) {
	l.stats.Add(t.Result)
	switch {
	case t.Result.IsSkip():
		l.skipped = append(l.skipped, t.Name)
	case t.Result != Succeeded:
		l.failed = append(l.failed, t.Name)
	}
}

func (r *ConformanceReport) validateProfiles() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	byProfile := map[string][]TestResult{}
	for _, t := range r.Tests {
		byProfile[t.Profile] = append(byProfile[t.Profile], t)
	}
	for n, p := range r.ProfileReports {
		where := fmt.Sprintf("profiles[%d] (%s)", n, p.Name)
		if !profileNamePattern.MatchString(p.Name) {
			add("%s: name is not an upper-case profile name like AMBIENT-L4", where)
		}
		if n > 0 && r.ProfileReports[n-1].Name >= p.Name {
			add("%s: not sorted by name, or duplicated", where)
		}
		if p.Summary == "" {
			add("%s: summary cannot be empty", where)
		}
		tests, ok := byProfile[p.Name]
		delete(byProfile, p.Name)
		if !ok {
			add("%s: no test in tests belongs to this profile", where)
			continue
		}
		var core, ext levelTally
		hasExtended := false
		for _, t := range tests {
			if t.Core {
				core.add(t)
			} else {
				ext.add(t)
				hasExtended = true
			}
		}
		errs = append(errs, checkStatus(where+".core", p.Core, core)...)
		switch {
		case hasExtended && p.Extended == nil:
			add("%s: extended is missing but %d tests are extended", where, ext.stats.Total())
		case !hasExtended && p.Extended != nil:
			add("%s: extended is present but no test is extended", where)
		case hasExtended:
			errs = append(errs, checkStatus(where+".extended", p.Extended.Status, ext)...)
			sup, unsup := ExtendedFeatureSupport(tests)
			if !equalStrings(p.Extended.SupportedFeatures, sup) {
				add("%s.extended: supportedFeatures is %v but the tests say %v", where, p.Extended.SupportedFeatures, sup)
			}
			if !equalStrings(p.Extended.UnsupportedFeatures, unsup) {
				add("%s.extended: unsupportedFeatures is %v but the tests say %v", where, p.Extended.UnsupportedFeatures, unsup)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byProfile)) {
		add("tests name profile %s but profiles has no entry for it", name)
	}
	return errs
}

func checkStatus(where string, got Status, want levelTally) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	g, w := got.Statistics, want.stats
	if g != w {
		add("%s: counts do not add up: statistics say Passed=%d Failed=%d Skipped=%d but the tests say Passed=%d Failed=%d Skipped=%d",
			where, g.Passed, g.Failed, g.Skipped, w.Passed, w.Failed, w.Skipped)
	}
	if wr := w.Result(); got.Result != wr {
		add("%s: result is %q but the tests make it %q", where, got.Result, wr)
	}
	if !equalStrings(got.SkippedTests, want.skipped) {
		add("%s: skippedTests is %v but the tests say %v", where, got.SkippedTests, want.skipped)
	}
	if !equalStrings(got.FailedTests, want.failed) {
		add("%s: failedTests is %v but the tests say %v", where, got.FailedTests, want.failed)
	}
	return errs
}

// ExtendedFeatureSupport derives one profile's extended feature lists from
// its results. A feature exercised by a core test is core and listed in
// neither. Any other feature is supported if some extended test that was not
// NOT_SUPPORTED exercises it (the implementation claimed it, even if the test
// was filtered out), and unsupported if only NOT_SUPPORTED tests, or tests
// skipped because the implementation lacks a capability (SKIPPED with reason
// not-supported), do. Both lists are sorted; nil when empty.
func ExtendedFeatureSupport(profileTests []TestResult) (supported, unsupported []string) {
	core, claimed, declined := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, t := range profileTests {
		for _, f := range t.Features {
			switch {
			case t.Core:
				core[f] = true
			case t.Result == NotSupported, t.Result == Skipped && t.Reason.Class == ReasonNotSupported:
				declined[f] = true
			default:
				claimed[f] = true
			}
		}
	}
	for f := range claimed {
		if !core[f] {
			supported = append(supported, f)
		}
	}
	for f := range declined {
		if !core[f] && !claimed[f] {
			unsupported = append(unsupported, f)
		}
	}
	slices.Sort(supported)
	slices.Sort(unsupported)
	return supported, unsupported
}

// succeededProvisional lists, sorted and once each, the names of passing
// provisional tests; nil when there are none.
func succeededProvisional(tests []TestResult) []string {
	var names []string
	for _, t := range tests {
		if t.Provisional && t.Result == Succeeded {
			names = append(names, t.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// SucceededProvisionalTests lists the passing provisional tests of results,
// sorted and deduplicated across profiles, as the report's field holds them.
func SucceededProvisionalTests(results []TestResult) []string { return succeededProvisional(results) }
