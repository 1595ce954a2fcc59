package scenarios

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The raw, as-written form of the Scenario kind. Enums and durations stay
// strings here so that Validate can name the exact line of a bad value; the
// typed form is Resolved.

// GroupVersion of the Scenario kind.
var GroupVersion = schema.GroupVersion{Group: "ambientlab.io", Version: "v1alpha1"}

// GVK of the Scenario kind.
var GVK = GroupVersion.WithKind("Scenario")

// Scenario is the `kind: Scenario` document of a scenario file.
type Scenario struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            ScenarioSpec      `json:"spec"`
}

// ScenarioSpec declares what the scenario needs and does.
type ScenarioSpec struct {
	// Description says what the scenario shows, in one or two sentences.
	Description string `json:"description,omitempty"`
	// Profile is the conformance profile the scenario belongs to.
	Profile string `json:"profile"`
	// Features are the FeatureNames the scenario exercises; each implies the
	// capabilities it needs.
	Features []string `json:"features,omitempty"`
	// Requires lists capabilities beyond those the features and manifests
	// imply.
	Requires []string `json:"requires,omitempty"`
	// Cluster is the cluster shape.
	Cluster ClusterSpec `json:"cluster,omitempty"`
	// Timeouts override the run's defaults for this scenario.
	Timeouts TimeoutsSpec `json:"timeouts,omitempty"`
	// Steps run in order; the first failing step ends the scenario.
	Steps []Step `json:"steps"`
}

// ClusterSpec is the cluster shape.
type ClusterSpec struct {
	// Nodes is the node count (default 2, so cross-node traffic is exercised).
	Nodes int `json:"nodes,omitempty"`
	// Placement pins pods or deployments to nodes (node-0, node-1, ...).
	Placement []Placement `json:"placement,omitempty"`
}

// Placement pins one Pod or Deployment (exactly one of them) to a node.
type Placement struct {
	Pod        string `json:"pod,omitempty"`        // "ns/name" of a Pod in the file
	Deployment string `json:"deployment,omitempty"` // "ns/name" of a Deployment in the file
	Node       string `json:"node"`
}

// TimeoutsSpec overrides run defaults; durations are Go durations ("30s").
// The names follow Gateway API conformance's TimeoutConfig.
type TimeoutsSpec struct {
	// MaxTimeToConsistency bounds eventual-consistency polling (default 30s).
	MaxTimeToConsistency string `json:"maxTimeToConsistency,omitempty"`
	// RequiredConsecutiveSuccesses is N in "N in a row" (default 3).
	RequiredConsecutiveSuccesses int `json:"requiredConsecutiveSuccesses,omitempty"`
	// Probe bounds one probe attempt (default 5s).
	Probe string `json:"probe,omitempty"`
	// Exec bounds one exec attempt (default 30s).
	Exec string `json:"exec,omitempty"`
	// Step bounds apply, delete and wait steps (default 60s).
	Step string `json:"step,omitempty"`
}

// StepMeta is common to every step kind.
type StepMeta struct {
	// Kind discriminates the union: apply, delete, exec, probe, matrix, wait.
	Kind string `json:"kind"`
	// Name labels the step in reports (default "<kind> #<n>").
	Name string `json:"name,omitempty"`
}

// Step is one step; its concrete type is chosen by kind.
type Step interface {
	Meta() StepMeta
}

// Meta returns the common fields.
func (m StepMeta) Meta() StepMeta { return m }

// ApplyStep applies inline manifests (kubectl apply semantics).
type ApplyStep struct {
	StepMeta `json:",inline"`
	// Manifests is multi-document YAML, written as a literal block (`|`) so
	// errors point at the right file line.
	Manifests string `json:"manifests"`
}

// DeleteStep deletes the objects named by inline manifests.
type DeleteStep struct {
	StepMeta  `json:",inline"`
	Manifests string `json:"manifests"`
}

// ConvergenceSpec says how often a check must hold. With neither set, a check
// polls until RequiredConsecutiveSuccesses attempts in a row pass within
// MaxTimeToConsistency (Gateway API's AwaitConvergence).
type ConvergenceSpec struct {
	// Eventually overrides the consecutive count and the deadline.
	Eventually *EventuallySpec `json:"eventually,omitempty"`
	// Consistently requires every attempt to pass for a duration.
	Consistently *ConsistentlySpec `json:"consistently,omitempty"`
}

// EventuallySpec: N consecutive passes within a timeout.
type EventuallySpec struct {
	Consecutive int    `json:"consecutive,omitempty"`
	Timeout     string `json:"timeout,omitempty"`
}

// ConsistentlySpec: every attempt passes for Duration.
type ConsistentlySpec struct {
	Duration string `json:"duration"`
}

// ExecStep runs a host binary in a pod (the `kubectl exec` lines of a tutorial).
type ExecStep struct {
	StepMeta `json:",inline"`
	// In is the pod: "ns/pod" or "ns/deploy/name".
	In string `json:"in"`
	// Command is argv; argv[0] is looked up on the host PATH. ${...}
	// placeholders are expanded (see docs/scenarios.md#placeholders).
	Command         []string   `json:"command"`
	Timeout         string     `json:"timeout,omitempty"`
	Expect          ExecExpect `json:"expect,omitempty"`
	ConvergenceSpec `json:",inline"`
}

// ExecExpect are expectations on an exec; exitCode defaults to 0.
type ExecExpect struct {
	ExitCode          *int     `json:"exitCode,omitempty"`
	StdoutContains    []string `json:"stdoutContains,omitempty"`
	StdoutNotContains []string `json:"stdoutNotContains,omitempty"`
	StdoutMatches     string   `json:"stdoutMatches,omitempty"`
	StderrContains    []string `json:"stderrContains,omitempty"`
}

// ProbeStep connects from a pod to a URL or a TCP address.
type ProbeStep struct {
	StepMeta `json:",inline"`
	// From is the source pod: "ns/pod" or "ns/deploy/name".
	From string `json:"from"`
	// URL (http://...) or TCP (host:port); exactly one.
	URL string `json:"url,omitempty"`
	TCP string `json:"tcp,omitempty"`
	// Method, Headers and Body of an HTTP probe.
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// HTTP2 uses HTTP/2 with prior knowledge (h2c).
	HTTP2 bool `json:"http2,omitempty"`
	// Timeout bounds one attempt (default: timeouts.probe).
	Timeout         string      `json:"timeout,omitempty"`
	Expect          ProbeExpect `json:"expect,omitempty"`
	ConvergenceSpec `json:",inline"`
}

// ProbeExpect are expectations on one probe attempt.
type ProbeExpect struct {
	// Outcome defaults to ok.
	Outcome string `json:"outcome,omitempty"`
	// Status is the expected HTTP status (0: any).
	Status          int      `json:"status,omitempty"`
	BodyContains    []string `json:"bodyContains,omitempty"`
	BodyNotContains []string `json:"bodyNotContains,omitempty"`
	// ObservedSourceIP is the client address the server saw: "source" (the
	// source pod's IP), an IP, or a ${podIP:...} placeholder. Read from the
	// echo report or httpbin's /ip in the body.
	ObservedSourceIP string `json:"observedSourceIP,omitempty"`
	// ObservedIdentity is the peer SPIFFE identity the server side saw
	// (needs capability mtls-identity).
	ObservedIdentity string `json:"observedIdentity,omitempty"`
	// Path lists the proxies that must have handled the connection, from
	// their access logs: "ztunnel:node-0", "waypoint:ns/name",
	// "sidecar:ns/pod" (needs capability access-logs).
	Path []string `json:"path,omitempty"`
	// NoPlaintext requires that a capture between nodes shows no copy of the
	// probe's random canary (needs capability packet-capture).
	NoPlaintext bool `json:"noPlaintext,omitempty"`
}

// MatrixStep probes every source × target pair and compares the outcomes
// with a truth table written as a text grid.
type MatrixStep struct {
	StepMeta `json:",inline"`
	// Sources maps row labels to pods ("ns/pod" or "ns/deploy/name").
	Sources map[string]string `json:"sources"`
	// Targets maps column labels to "http://..." URLs or "tcp://host:port".
	Targets map[string]string `json:"targets"`
	// Expect is the grid: a header line of target labels, then one line per
	// source: its label and one cell per target. A cell is an outcome word
	// (ok, reset, refused, timeout, dns-error, error) or an HTTP status.
	Expect          string `json:"expect"`
	Timeout         string `json:"timeout,omitempty"`
	ConvergenceSpec `json:",inline"`
}

// WaitStep waits for pods to be ready or for a duration.
type WaitStep struct {
	StepMeta `json:",inline"`
	For      string `json:"for"`
	Duration string `json:"duration,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
}

// GetObjectKind implements runtime.Object.
func (s *Scenario) GetObjectKind() schema.ObjectKind { return &s.TypeMeta }

// GetObjectMeta lets apimachinery's meta.Accessor read the name.
func (s *Scenario) GetObjectMeta() metav1.Object { return &s.Metadata }

// DeepCopyObject implements runtime.Object by a strict JSON round trip, which
// also exercises the decoder on every copy.
func (s *Scenario) DeepCopyObject() runtime.Object {
	out, err := roundTrip(s)
	if err != nil {
		panic("scenarios: deep copy of a decoded scenario failed: " + err.Error())
	}
	return out
}

var _ runtime.Object = (*Scenario)(nil)
