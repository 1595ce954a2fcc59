package policy

import (
	"fmt"
	"strings"
)

// Scope says which workloads a policy applies to (ztunnel `rbac.rs` RbacScope,
// workload API `security.Scope`). The zero value is deliberately invalid: the wire
// enum's zero is GLOBAL, and a forgotten field must not silently apply mesh-wide.
type Scope uint8

const (
	// ScopeGlobal applies to every workload in the mesh (root-namespace policies).
	ScopeGlobal Scope = iota + 1
	// ScopeNamespace applies to every workload in Policy.Namespace.
	ScopeNamespace
	// ScopeWorkloadSelector applies only to workloads that reference the policy by
	// name (Workload.authorization_policies).
	ScopeWorkloadSelector
)

var scopeNames = [...]string{ScopeGlobal: "Global", ScopeNamespace: "Namespace", ScopeWorkloadSelector: "WorkloadSelector"}

func (s Scope) String() string {
	if s >= ScopeGlobal && int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

// Valid reports whether s is one of the defined scopes.
func (s Scope) Valid() bool { return s >= ScopeGlobal && s <= ScopeWorkloadSelector }

// ParseScope accepts the String() form or the wire enum name (GLOBAL, NAMESPACE,
// WORKLOAD_SELECTOR), case-insensitively.
func ParseScope(s string) (Scope, error) {
	n := strings.ToLower(strings.ReplaceAll(s, "_", ""))
	for v := ScopeGlobal; v <= ScopeWorkloadSelector; v++ {
		if strings.ToLower(scopeNames[v]) == n {
			return v, nil
		}
	}
	return 0, fmt.Errorf("policy: unknown scope %q", s)
}

// Action is what a matching policy does. Istio's order is CUSTOM → DENY → ALLOW;
// AUDIT never affects the decision (istio.io AuthorizationPolicy reference).
// The zero value is invalid for the same reason as Scope.
type Action uint8

const (
	ActionAllow Action = iota + 1
	ActionDeny
	ActionCustom
	ActionAudit
)

var actionNames = [...]string{ActionAllow: "ALLOW", ActionDeny: "DENY", ActionCustom: "CUSTOM", ActionAudit: "AUDIT"}

func (a Action) String() string {
	if a >= ActionAllow && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Valid reports whether a is one of the defined actions.
func (a Action) Valid() bool { return a >= ActionAllow && a <= ActionAudit }

// ParseAction accepts ALLOW, DENY, CUSTOM, AUDIT case-insensitively.
func ParseAction(s string) (Action, error) {
	for v := ActionAllow; v <= ActionAudit; v++ {
		if strings.EqualFold(actionNames[v], s) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("policy: unknown action %q", s)
}

// MatchKind is how a StringMatch compares. Matching is always literal: Istio's "*"
// forms map onto prefix/suffix/presence, never onto a regex (CVE-2026-39350 turned
// dotted service-account names into unescaped regexes; reliability Z6).
type MatchKind uint8

const (
	MatchExact MatchKind = iota + 1
	MatchPrefix
	MatchSuffix
	// MatchPresence matches any non-empty value (Istio "*").
	MatchPresence
)

var matchKindNames = [...]string{MatchExact: "exact", MatchPrefix: "prefix", MatchSuffix: "suffix", MatchPresence: "presence"}

func (k MatchKind) String() string {
	if k >= MatchExact && int(k) < len(matchKindNames) {
		return matchKindNames[k]
	}
	return fmt.Sprintf("MatchKind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k MatchKind) Valid() bool { return k >= MatchExact && k <= MatchPresence }

// ParseMatchKind accepts exact, prefix, suffix, presence case-insensitively.
func ParseMatchKind(s string) (MatchKind, error) {
	for v := MatchExact; v <= MatchPresence; v++ {
		if strings.EqualFold(matchKindNames[v], s) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("policy: unknown match kind %q", s)
}

// Reason is the closed set of explanations a Decision can carry. The texts of the
// ztunnel-defined ones match ztunnel `src/proxy.rs` AuthorizationRejectionError and
// the `authpol_log!` lines of `src/state.rs` assert_rbac, so logs read the same.
type Reason uint8

const (
	// ReasonNoAllowPolicies: allowed because no enforced ALLOW policy applies.
	ReasonNoAllowPolicies Reason = iota + 1
	// ReasonAllowMatched: allowed by the ALLOW policy in Decision.Policy.
	ReasonAllowMatched
	// ReasonExplicitlyDenied: the DENY policy in Decision.Policy matched.
	ReasonExplicitlyDenied
	// ReasonNotAllowed: ALLOW policies apply and none matched.
	ReasonNotAllowed
	// ReasonUnknownPolicy: the workload references a policy we never received.
	// Divergence from ztunnel (which skips it): we deny (reliability Z10).
	ReasonUnknownPolicy
)

var reasonNames = [...]string{
	ReasonNoAllowPolicies:  "NoAllowPolicies",
	ReasonAllowMatched:     "AllowMatched",
	ReasonExplicitlyDenied: "ExplicitlyDenied",
	ReasonNotAllowed:       "NotAllowed",
	ReasonUnknownPolicy:    "UnknownPolicy",
}

// String is the stable identifier (for metrics labels and tests); Text renders the
// log message.
func (r Reason) String() string {
	if r >= ReasonNoAllowPolicies && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// ParseReason is the inverse of String.
func ParseReason(s string) (Reason, error) {
	for v := ReasonNoAllowPolicies; v <= ReasonUnknownPolicy; v++ {
		if reasonNames[v] == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("policy: unknown reason %q", s)
}

// Text renders the reason as ztunnel logs it; policyKey is "<ns>/<name>" where the
// reason names a policy.
func (r Reason) Text(policyKey string) string {
	switch r {
	case ReasonNoAllowPolicies:
		return "no allow policies, allow"
	case ReasonAllowMatched:
		return "allow policy match: " + policyKey
	case ReasonExplicitlyDenied:
		return "explicitly denied by: " + policyKey
	case ReasonNotAllowed:
		return "allow policies exist, but none allowed"
	case ReasonUnknownPolicy:
		return "unknown policy referenced: " + policyKey
	}
	return r.String()
}
