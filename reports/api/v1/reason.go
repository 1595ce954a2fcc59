package v1

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ReasonClass is the closed set of reasons a test did not pass cleanly
// (conventions.md §5.2).
type ReasonClass string

const (
	// ReasonNotSupported: the implementation declares a feature the test needs
	// unsupported. Only for NOT_SUPPORTED outcomes.
	ReasonNotSupported ReasonClass = "not-supported"
	// ReasonFiltered: a label filter, --skip-tests or --run-test left it out.
	ReasonFiltered ReasonClass = "filtered"
	// ReasonEnvUnavailable: the backend cannot run it here (no docker daemon,
	// no privileged containers); never a failure.
	ReasonEnvUnavailable ReasonClass = "env-unavailable"
	// ReasonExpectedFail: a known bug, tracked by an issue.
	ReasonExpectedFail ReasonClass = "expected-fail"
)

// ReasonClasses lists every ReasonClass in a stable order.
var ReasonClasses = []ReasonClass{ReasonNotSupported, ReasonFiltered, ReasonEnvUnavailable, ReasonExpectedFail}

func (c ReasonClass) String() string { return string(c) }

// maxIssueLen bounds an issue reference; it is a reference, not prose.
const maxIssueLen = 200

// Reason is a ReasonClass plus, for expected-fail only, the issue tracking
// it. It reads and writes as one string: "filtered", "expected-fail:istio/istio#58531".
// The zero Reason means "no reason" and is omitted from output.
type Reason struct {
	Class ReasonClass
	Issue string
}

// ExpectedFail returns the expected-fail reason for issue.
func ExpectedFail(issue string) Reason { return Reason{Class: ReasonExpectedFail, Issue: issue} }

// ReasonOf returns the reason of a class that carries no issue.
func ReasonOf(c ReasonClass) Reason { return Reason{Class: c} }

// IsZero reports the absence of a reason (and drives `omitzero`).
func (r Reason) IsZero() bool { return r == Reason{} }

func (r Reason) String() string {
	if r.Class == ReasonExpectedFail {
		return string(r.Class) + ":" + r.Issue
	}
	return string(r.Class)
}

// Validate checks the class is known and the issue is present exactly when
// the class is expected-fail.
func (r Reason) Validate() error {
	switch r.Class {
	case ReasonNotSupported, ReasonFiltered, ReasonEnvUnavailable:
		if r.Issue != "" {
			return fmt.Errorf("reason %s takes no issue (got %q)", r.Class, r.Issue)
		}
		return nil
	case ReasonExpectedFail:
		return validateIssue(r.Issue)
	case "":
		if r.Issue != "" {
			return errors.New("reason has an issue but no class")
		}
		return nil
	}
	return fmt.Errorf("unknown reason class %q (want one of %v)", r.Class, ReasonClasses)
}

func validateIssue(issue string) error {
	if issue == "" {
		return errors.New("expected-fail needs an issue: expected-fail:<issue>")
	}
	if len(issue) > maxIssueLen {
		return fmt.Errorf("expected-fail issue is %d bytes long (max %d)", len(issue), maxIssueLen)
	}
	if strings.IndexFunc(issue, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("expected-fail issue %q must be one printable token without spaces", issue)
	}
	return nil
}

// ParseReason parses the string form. The empty string is the zero Reason.
func ParseReason(s string) (Reason, error) {
	if s == "" {
		return Reason{}, nil
	}
	var r Reason
	if cls, issue, ok := strings.Cut(s, ":"); ok {
		r = Reason{Class: ReasonClass(cls), Issue: issue}
		if r.Class != ReasonExpectedFail {
			return Reason{}, fmt.Errorf("reason %q: only expected-fail takes an issue after ':'", s)
		}
	} else {
		r = Reason{Class: ReasonClass(s)}
	}
	if err := r.Validate(); err != nil {
		return Reason{}, fmt.Errorf("reason %q: %w", s, err)
	}
	return r, nil
}

// MarshalText writes the string form.
func (r Reason) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses the string form strictly.
func (r *Reason) UnmarshalText(b []byte) error {
	p, err := ParseReason(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
