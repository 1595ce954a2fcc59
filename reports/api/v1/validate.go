package v1

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

var (
	profileNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`)
	digestPattern      = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	commitPattern      = regexp.MustCompile(`^[0-9a-f]{7,64}(-dirty)?$`)
)

// Validate checks every field upstream requires, and that the URL is an
// absolute http(s) URL with a host.
func (i *Implementation) Validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"organization", i.Organization}, {"project", i.Project}, {"url", i.URL}, {"version", i.Version},
	} {
		if strings.TrimSpace(f.value) == "" {
			errs = append(errs, fmt.Errorf("implementation's %s cannot be empty", f.name))
		}
	}
	if i.URL != "" {
		if err := validateHTTPURL(i.URL); err != nil {
			errs = append(errs, fmt.Errorf("implementation's url: %w", err))
		}
	}
	if len(i.Contact) == 0 {
		errs = append(errs, errors.New("implementation's contact cannot be empty"))
	}
	for n, c := range i.Contact {
		if strings.TrimSpace(c) == "" {
			errs = append(errs, fmt.Errorf("implementation's contact[%d] is empty", n))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the fields a reviewer needs to reproduce a run.
func (p *Provenance) Validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"harnessVersion", p.HarnessVersion}, {"goVersion", p.GoVersion}, {"kernel", p.Kernel}, {"dataPlane", p.DataPlane},
	} {
		if strings.TrimSpace(f.value) == "" {
			errs = append(errs, fmt.Errorf("provenance.%s cannot be empty", f.name))
		}
	}
	if _, err := ParseBackend(string(p.Backend)); err != nil {
		errs = append(errs, fmt.Errorf("provenance.backend: %w", err))
	}
	if p.Commit != "" && !commitPattern.MatchString(p.Commit) {
		errs = append(errs, fmt.Errorf("provenance.commit %q is not a hex revision (optionally -dirty)", p.Commit))
	}
	if p.ScenarioHash != "" && !digestPattern.MatchString(p.ScenarioHash) {
		errs = append(errs, fmt.Errorf("provenance.scenarioHash %q is not sha256:<64 hex>", p.ScenarioHash))
	}
	if p.CIRunURL != "" {
		if err := validateHTTPURL(p.CIRunURL); err != nil {
			errs = append(errs, fmt.Errorf("provenance.ciRunURL: %w", err))
		}
	}
	for n, img := range p.Images {
		if strings.TrimSpace(img.Name) == "" {
			errs = append(errs, fmt.Errorf("provenance.images[%d]: name cannot be empty", n))
		}
		if !digestPattern.MatchString(img.Digest) {
			errs = append(errs, fmt.Errorf("provenance.images[%d] (%s): digest %q is not sha256:<64 hex>", n, img.Name, img.Digest))
		}
		if n > 0 && CompareImages(p.Images[n-1], img) >= 0 {
			errs = append(errs, fmt.Errorf("provenance.images[%d] (%s): not sorted by name or duplicated", n, img.Name))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the kind, the summary, the path and the digest.
func (e *Evidence) Validate() error {
	var errs []error
	if _, err := ParseEvidenceKind(string(e.Kind)); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(e.Summary) == "" {
		errs = append(errs, errors.New("evidence needs a summary"))
	}
	if e.Path != "" {
		if err := validateEvidencePath(e.Path); err != nil {
			errs = append(errs, err)
		}
	}
	if e.Digest != "" && !digestPattern.MatchString(e.Digest) {
		errs = append(errs, fmt.Errorf("evidence digest %q is not sha256:<64 hex>", e.Digest))
	}
	return errors.Join(errs...)
}

// Validate checks one result on its own: name, profile, sorted features, the
// outcome, and that the reason and message fit the outcome.
func (t *TestResult) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := validateName(t.Name); err != nil {
		add("name: %w", err)
	}
	if !profileNamePattern.MatchString(t.Profile) {
		add("profile %q is not an upper-case profile name like AMBIENT-L4", t.Profile)
	}
	if err := validateSortedSet("features", t.Features); err != nil {
		errs = append(errs, err)
	}
	if err := t.Reason.Validate(); err != nil {
		add("reason: %w", err)
	}
	errs = append(errs, t.validateOutcome()...)
	if t.Duration < 0 || t.TimeToConsistency < 0 {
		add("durations cannot be negative")
	}
	if t.Retries < 0 {
		add("retries cannot be negative")
	}
	if t.EnforcedBy != "" {
		if _, err := ParseProxy(string(t.EnforcedBy)); err != nil {
			add("enforcedBy: %w", err)
		}
	}
	for _, p := range t.HandledBy {
		if _, err := ParseProxy(string(p)); err != nil {
			add("handledBy: %w", err)
		}
	}
	for n := range t.Evidence {
		if err := t.Evidence[n].Validate(); err != nil {
			add("evidence[%d]: %w", n, err)
		}
		if n > 0 && CompareEvidence(t.Evidence[n-1], t.Evidence[n]) >= 0 {
			add("evidence[%d]: not sorted (kind, summary, path, digest) or duplicated", n)
		}
	}
	return errors.Join(errs...)
}

func (t *TestResult) validateOutcome() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, err := ParseOutcome(string(t.Result)); err != nil {
		return []error{err}
	}
	switch t.Result {
	case Succeeded:
		if !t.Reason.IsZero() {
			add("a passed test carries no reason (got %s)", t.Reason)
		}
	case Failed:
		if strings.TrimSpace(t.Message) == "" {
			add("a failed test needs a message saying what failed")
		}
		if !t.Reason.IsZero() && t.Reason.Class != ReasonExpectedFail {
			add("a failure's reason can only be expected-fail:<issue> (got %s)", t.Reason)
		}
	case NotSupported:
		if t.Reason.Class != ReasonNotSupported {
			add("%s needs reason not-supported (got %q)", t.Result, t.Reason)
		}
		if t.Core {
			add("a core test cannot be %s: choosing a profile implies its core features", t.Result)
		}
	case Skipped, ProvisionalSkipped:
		switch {
		case t.Reason.IsZero():
			add("%s without a reason: every skip needs one of %v", t.Result, ReasonClasses)
		case t.Reason.Class == ReasonNotSupported && strings.TrimSpace(t.Message) == "":
			// SKIPPED + not-supported: the backend or data plane under test lacks
			// a capability the test needs (e.g. a reference component that has not
			// landed yet). Unlike NOT_SUPPORTED (a feature the implementation
			// declares unsupported) it may hit core tests, so it must say which.
			add("a skip for a missing capability must name it in the message")
		}
	}
	return errs
}

func validateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("cannot be empty")
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%q has leading or trailing space", name)
	}
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("%q has control characters", name)
	}
	return nil
}

// validateSortedSet checks a list is sorted and free of duplicates and blanks.
func validateSortedSet(field string, items []string) error {
	var errs []error
	for n, s := range items {
		if strings.TrimSpace(s) == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			errs = append(errs, fmt.Errorf("%s[%d] %q must be one non-empty token", field, n, s))
		}
		if n > 0 && items[n-1] >= s {
			errs = append(errs, fmt.Errorf("%s[%d] %q: not sorted or duplicated (after %q)", field, n, s, items[n-1]))
		}
	}
	return errors.Join(errs...)
}

func validateHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("could not parse %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an absolute http(s) URL", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// validateEvidencePath accepts an http(s) URL or a clean relative path that
// stays inside the report's directory.
func validateEvidencePath(p string) error {
	if strings.Contains(p, "://") {
		return validateHTTPURL(p)
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':') {
		return fmt.Errorf("evidence path %q is absolute; make it relative to the report's directory", p)
	}
	if c := path.Clean(p); c != p || c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("evidence path %q must be clean and stay inside the report's directory", p)
	}
	return nil
}

func validateDate(date string) error {
	if _, err := time.Parse(time.RFC3339, date); err != nil {
		return fmt.Errorf("date %q is not RFC 3339: %w", date, err)
	}
	return nil
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
