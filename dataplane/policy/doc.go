// Package policy is the one authorization evaluator shared by the reference
// ztunnel, waypoint and sidecar: a typed model of Istio AuthorizationPolicy as the
// data plane receives it, and a pure Evaluate(policies, attrs) → Decision.
//
// It is modelled on ztunnel `src/rbac.rs` (matching) and `src/state.rs`
// assert_rbac (CUSTOM → DENY → ALLOW ordering), with one documented divergence:
// a policy a workload references but that was never received denies
// (ReasonUnknownPolicy, reliability Z10) instead of being skipped.
//
// PeerAuthentication is not special-cased here: the control plane converts it into
// DENY policies exactly as istiod does for ztunnel, so there is one decision path.
//
// L4 attributes are a subset of L7 attributes (Attributes.Request); L7 matchers
// are fields on Match, so the waypoint reuses Evaluate unchanged.
package policy
