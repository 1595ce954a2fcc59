package scenarios

import (
	"regexp"
	"time"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// Resolved is a validated scenario in typed runtime form: what a runner
// executes. Nothing in it needs parsing again.
type Resolved struct {
	Name        string
	File        string
	Line        int // line of the Scenario document
	Hash        string
	Description string
	Profile     Profile
	Features    []FeatureName
	// Requires is every capability the scenario needs: declared, implied by
	// its features, by its manifests (an AuthorizationPolicy needs a ztunnel)
	// and by its expectations (an identity check needs mtls-identity). Sorted.
	Requires []Capability
	Nodes    int
	// Manifests are the objects applied at setup (the Scenario document
	// removed, placement applied as spec.nodeName).
	Manifests *manifest.Set
	Timeouts  Timeouts
	Steps     []Action
}

// Timeouts are the effective timeouts of a scenario.
type Timeouts struct {
	MaxTimeToConsistency         time.Duration
	RequiredConsecutiveSuccesses int
	Probe                        time.Duration
	Exec                         time.Duration
	Step                         time.Duration
}

// DefaultTimeouts are Gateway API conformance's consistency defaults (3 in a
// row within 30 s) plus ours.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		MaxTimeToConsistency:         30 * time.Second,
		RequiredConsecutiveSuccesses: 3,
		Probe:                        5 * time.Second,
		Exec:                         30 * time.Second,
		Step:                         60 * time.Second,
	}
}

// StepInfo is common to every action.
type StepInfo struct {
	Index int // 0-based
	Kind  StepKind
	Name  string
	Line  int
	// Requires lists capabilities this step's expectations need.
	Requires []Capability
}

// Action is one resolved step.
type Action interface {
	Info() StepInfo
}

// Info returns the common fields.
func (s StepInfo) Info() StepInfo { return s }

// ConvergenceMode says how a check is repeated.
type ConvergenceMode int

const (
	// ConvergeEventually: N consecutive passes within Timeout.
	ConvergeEventually ConvergenceMode = iota + 1
	// ConvergeConsistently: every attempt passes for Duration.
	ConvergeConsistently
)

func (m ConvergenceMode) String() string {
	switch m {
	case ConvergeEventually:
		return "eventually"
	case ConvergeConsistently:
		return "consistently"
	}
	return "ConvergenceMode(?)"
}

// Convergence is the resolved repetition policy of a check.
type Convergence struct {
	Mode        ConvergenceMode
	Consecutive int
	Timeout     time.Duration // eventually
	Duration    time.Duration // consistently
}

// ApplyAction applies Set.
type ApplyAction struct {
	StepInfo
	Set *manifest.Set
}

// DeleteAction deletes the objects of Set.
type DeleteAction struct {
	StepInfo
	Set *manifest.Set
}

// ExecAction runs Argv in pod In. Strings may hold placeholders.
type ExecAction struct {
	StepInfo
	In          string
	Argv        []string
	Timeout     time.Duration
	Expect      ExecExpectation
	Convergence Convergence
}

// ExecExpectation is the typed form of ExecExpect.
type ExecExpectation struct {
	ExitCode          int
	StdoutContains    []string
	StdoutNotContains []string
	StdoutMatches     *regexp.Regexp
	StderrContains    []string
}

// ProbeRequest is what the probe client sends. Strings may hold placeholders.
type ProbeRequest struct {
	URL     string // http(s)://... ; empty for TCP
	TCP     string // host:port ; empty for HTTP
	Method  string
	Headers map[string]string
	Body    string
	HTTP2   bool
	Timeout time.Duration
}

// Target renders the request's destination for messages.
func (r ProbeRequest) Target() string {
	if r.URL != "" {
		return r.URL
	}
	return "tcp://" + r.TCP
}

// ProbeExpectation is the typed form of ProbeExpect.
type ProbeExpectation struct {
	Outcome          Outcome
	Status           int
	BodyContains     []string
	BodyNotContains  []string
	ObservedSourceIP string // "source", an IP or a placeholder; "" for no check
	ObservedIdentity string
	Path             []string
	NoPlaintext      bool
}

// ProbeAction probes Request from pod From.
type ProbeAction struct {
	StepInfo
	From        string
	Request     ProbeRequest
	Expect      ProbeExpectation
	Convergence Convergence
}

// Labeled is one row or column of a matrix.
type Labeled struct {
	Label string
	Value string
}

// MatrixAction probes every Sources × Targets pair and compares with Want.
type MatrixAction struct {
	StepInfo
	Sources     []Labeled // in grid row order
	Targets     []Labeled // in grid column order; Value is a URL or tcp://host:port
	Want        Grid
	Timeout     time.Duration
	Convergence Convergence
}

// WaitAction waits for pods or a duration.
type WaitAction struct {
	StepInfo
	For      WaitFor
	Duration time.Duration
	Timeout  time.Duration
}
