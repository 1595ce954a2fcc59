package policy

// Verdict is one outcome: allowed or not, why, and which policy decided (empty
// for ReasonNoAllowPolicies and ReasonNotAllowed).
type Verdict struct {
	Allowed bool
	Policy  string // "<ns>/<name>"
	Reason  Reason
}

// Text renders the verdict as ztunnel logs it.
func (v Verdict) Text() string { return v.Reason.Text(v.Policy) }

// Decision is the enforced Verdict plus, when dry-run policies apply, the Verdict
// that enforcing them too would have produced (ztunnel logs "dry-run: deny policy
// match" and friends; we report the would-be outcome instead of a log line).
type Decision struct {
	Verdict
	HasDryRun bool
	DryRun    Verdict
}

// Evaluate decides one connection or request against the applicable policies.
// It is pure, deterministic and allocation-free; order of policies only affects
// which of several matching policies is named, so callers pass a stable order.
//
// Semantics (ambient-semantics §6; ztunnel `src/state.rs` assert_rbac):
//   - CUSTOM first. We have no external authorizer, so a matching CUSTOM policy
//     denies (fail closed); ztunnel never receives CUSTOM policies at all.
//   - DENY next: any match denies.
//   - No enforced ALLOW policy → allow.
//   - Some ALLOW matches → allow; otherwise deny.
//   - AUDIT never decides. Dry-run policies never decide; see Decision.DryRun.
//   - A nil entry stands for a policy that was referenced but not received and
//     denies (divergence Z10); Snapshot.Decide names it.
func Evaluate(policies []*Policy, attrs *Attributes) Decision {
	d := Decision{Verdict: decide(policies, attrs, false)}
	for _, p := range policies {
		if p != nil && p.DryRun {
			d.HasDryRun = true
			d.DryRun = decide(policies, attrs, true)
			break
		}
	}
	return d
}

// decide runs the CUSTOM → DENY → ALLOW passes; withDryRun also enforces dry-run
// policies, to compute what they would change.
func decide(policies []*Policy, attrs *Attributes, withDryRun bool) Verdict {
	enforced := func(p *Policy) bool { return withDryRun || !p.DryRun }
	for _, p := range policies {
		if p == nil {
			return Verdict{Reason: ReasonUnknownPolicy}
		}
	}
	for _, p := range policies {
		if p.Action == ActionCustom && enforced(p) && p.Matches(attrs) {
			return Verdict{Policy: p.Key(), Reason: ReasonExplicitlyDenied}
		}
	}
	for _, p := range policies {
		// An invalid action is treated as DENY so that a malformed policy can only
		// take access away.
		if (p.Action == ActionDeny || !p.Action.Valid()) && enforced(p) && p.Matches(attrs) {
			return Verdict{Policy: p.Key(), Reason: ReasonExplicitlyDenied}
		}
	}
	haveAllow := false
	for _, p := range policies {
		if p.Action != ActionAllow || !enforced(p) {
			continue
		}
		haveAllow = true
		if p.Matches(attrs) {
			return Verdict{Allowed: true, Policy: p.Key(), Reason: ReasonAllowMatched}
		}
	}
	if !haveAllow {
		return Verdict{Allowed: true, Reason: ReasonNoAllowPolicies}
	}
	return Verdict{Reason: ReasonNotAllowed}
}
