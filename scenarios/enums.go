package scenarios

import (
	"fmt"
	"slices"
	"strings"
)

// Every closed set in the format is a typed string enum with String and a
// Parse function that names the valid values, so a typo is an error with a
// hint rather than a silently different behaviour.

// parseEnum returns s as T when it is one of all.
func parseEnum[T ~string](what string, all []T, s string) (T, error) {
	if slices.Contains(all, T(s)) {
		return T(s), nil
	}
	names := make([]string, len(all))
	for i, v := range all {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown %s %q; want one of %s", what, s, strings.Join(names, ", "))
}

// Profile is a conformance profile (conventions.md §5.2) plus SMOKE, the
// simulator base every mesh profile builds on.
type Profile string

const (
	ProfileSmoke          Profile = "SMOKE"
	ProfileAmbientL4      Profile = "AMBIENT-L4"
	ProfileAmbientL7      Profile = "AMBIENT-L7"
	ProfileHBONE          Profile = "HBONE"
	ProfileSidecarInterop Profile = "SIDECAR-INTEROP"
	ProfileResilience     Profile = "RESILIENCE"
)

// Profiles lists every profile in report order.
var Profiles = []Profile{ProfileSmoke, ProfileAmbientL4, ProfileAmbientL7, ProfileHBONE, ProfileSidecarInterop, ProfileResilience}

func (p Profile) String() string { return string(p) }

// ParseProfile parses a profile name.
func ParseProfile(s string) (Profile, error) { return parseEnum("profile", Profiles, s) }

// Capability is something a backend must be able to do for a scenario's
// verdict to mean anything. A backend declares the set it has; a scenario
// needing one it lacks is SKIPPED with reason not-supported, never run.
type Capability string

const (
	// CapServices: ClusterIP Services with kube-proxy load balancing.
	CapServices Capability = "services"
	// CapDNS: cluster DNS (Service, headless and pod records).
	CapDNS Capability = "dns"
	// CapZtunnel: ambient capture and L4 enforcement (AuthorizationPolicy,
	// PeerAuthentication) by a node proxy, with HBONE between nodes.
	CapZtunnel Capability = "ztunnel"
	// CapWaypoint: L7 enforcement (HTTP policy, JWT) by a waypoint proxy.
	CapWaypoint Capability = "waypoint"
	// CapSidecar: sidecar injection for istio-injection=enabled namespaces.
	CapSidecar Capability = "sidecar"
	// CapMTLSIdentity: the server side can observe the client's SPIFFE identity.
	CapMTLSIdentity Capability = "mtls-identity"
	// CapAccessLogs: proxies write access logs the runner can read to tell
	// which ztunnels, waypoints or sidecars handled a connection.
	CapAccessLogs Capability = "access-logs"
	// CapPacketCapture: inter-node packet capture, to prove no plaintext crosses.
	CapPacketCapture Capability = "packet-capture"
)

// Capabilities lists every capability.
var Capabilities = []Capability{CapServices, CapDNS, CapZtunnel, CapWaypoint, CapSidecar, CapMTLSIdentity, CapAccessLogs, CapPacketCapture}

func (c Capability) String() string { return string(c) }

// ParseCapability parses a capability name.
func ParseCapability(s string) (Capability, error) { return parseEnum("capability", Capabilities, s) }

// Outcome is how a connection attempt ended, as the probe client classifies
// it (sim/workload/probe uses the same words).
type Outcome string

const (
	OutcomeOK       Outcome = "ok"
	OutcomeReset    Outcome = "reset"
	OutcomeRefused  Outcome = "refused"
	OutcomeTimeout  Outcome = "timeout"
	OutcomeDNSError Outcome = "dns-error"
	OutcomeError    Outcome = "error"
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{OutcomeOK, OutcomeReset, OutcomeRefused, OutcomeTimeout, OutcomeDNSError, OutcomeError}

func (o Outcome) String() string { return string(o) }

// ParseOutcome parses an outcome word.
func ParseOutcome(s string) (Outcome, error) { return parseEnum("outcome", Outcomes, s) }

// StepKind discriminates the step union.
type StepKind string

const (
	StepApply  StepKind = "apply"
	StepDelete StepKind = "delete"
	StepExec   StepKind = "exec"
	StepProbe  StepKind = "probe"
	StepMatrix StepKind = "matrix"
	StepWait   StepKind = "wait"
	// StepLoad sends many requests and checks their distribution.
	StepLoad StepKind = "load"
	// StepFault is reserved: recognised so the message can say "not
	// implemented yet" instead of "unknown".
	StepFault StepKind = "fault"
)

// StepKinds lists the implemented step kinds.
var StepKinds = []StepKind{StepApply, StepDelete, StepExec, StepProbe, StepMatrix, StepWait, StepLoad}

// reservedStepKinds are accepted by no scenario yet.
var reservedStepKinds = []StepKind{StepFault}

func (k StepKind) String() string { return string(k) }

// ParseStepKind parses an implemented step kind.
func ParseStepKind(s string) (StepKind, error) {
	if slices.Contains(reservedStepKinds, StepKind(s)) {
		return "", fmt.Errorf("step kind %q is not implemented yet (reserved for later work)", s)
	}
	return parseEnum("step kind", StepKinds, s)
}

// WaitFor says what a wait step waits for.
type WaitFor string

const (
	// WaitPodsReady waits until every pod in the cluster reports ready.
	WaitPodsReady WaitFor = "podsReady"
	// WaitDuration waits a fixed duration (e.g. to let an idle timeout pass).
	WaitDuration WaitFor = "duration"
)

// WaitFors lists every wait target.
var WaitFors = []WaitFor{WaitPodsReady, WaitDuration}

func (w WaitFor) String() string { return string(w) }

// ParseWaitFor parses a wait target.
func ParseWaitFor(s string) (WaitFor, error) { return parseEnum("wait target", WaitFors, s) }
