package authz

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"istio.io/api/annotation"
	"istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/istio/pkg/workloadapi/security"
)

// convertAuthorizationPolicy mirrors istio `authorization.go`
// convertAuthorizationPolicy: nil with a warning for what ztunnel cannot enforce,
// nil without one for targetRefs policies (the waypoint's business).
func (c Config) convertAuthorizationPolicy(ap *securityv1.AuthorizationPolicy) (*security.Authorization, *Warning) {
	spec := &ap.Spec
	warn := func(msg string) *Warning {
		return &Warning{Kind: kindAuthorizationPolicy, Namespace: ap.Namespace, Name: ap.Name, Reason: reasonUnsupportedValue, Message: msg}
	}

	dryRun := false
	if v := ap.Annotations[annotation.IoIstioDryRun.Name]; v != "" {
		// Upstream logs a parse error and proceeds as not-dry-run.
		dryRun, _ = strconv.ParseBool(v)
	}
	if dryRun && !c.EnableDryRun {
		return nil, warn(fmt.Sprintf(dryRunDisabledFmt, ap.Namespace, ap.Name))
	}
	if len(spec.GetTargetRefs()) > 0 || spec.GetTargetRef() != nil {
		return nil, nil
	}

	scope := security.Scope_WORKLOAD_SELECTOR
	if spec.GetSelector() == nil {
		scope = security.Scope_NAMESPACE
		if ap.Namespace == c.rootNamespace() {
			scope = security.Scope_GLOBAL
		}
	}
	var action security.Action
	boilerplate := httpAllowRuleBoilerplate
	switch spec.GetAction() {
	case v1beta1.AuthorizationPolicy_ALLOW:
		action = security.Action_ALLOW
	case v1beta1.AuthorizationPolicy_DENY:
		action = security.Action_DENY
		boilerplate = httpDenyRuleBoilerplate
	default:
		return nil, warn(fmt.Sprintf(unsupportedActionFmt, spec.GetAction()))
	}
	out := &security.Authorization{
		Name: ap.Name, Namespace: ap.Namespace, Scope: scope, Action: action, DryRun: dryRun,
	}
	l7 := map[string]bool{}
	for _, rule := range spec.GetRules() {
		rules := c.handleRule(action, rule, ap.Namespace, l7)
		if rules != nil {
			out.Groups = append(out.Groups, &security.Group{Rules: rules})
		}
	}
	if len(l7) == 0 {
		return out, nil
	}
	found := make([]string, 0, len(l7))
	for k := range l7 {
		found = append(found, k)
	}
	sort.Strings(found)
	return out, warn(fmt.Sprintf(httpRuleFmt, strings.Join(found, ", "), boilerplate))
}

// handleRule converts one rule into its clauses: to, from, then one per when
// (upstream order). ALLOW rules with any HTTP attribute are omitted (nil); a nil
// result is distinct from an empty, always-matching one.
func (c Config) handleRule(action security.Action, rule *v1beta1.Rule, ns string, l7Found map[string]bool) []*security.Rules {
	hasL7 := false
	note := func(names []string) bool {
		for _, n := range names {
			l7Found[n] = true
		}
		hasL7 = hasL7 || len(names) > 0
		return len(names) > 0
	}
	// dropClause: an entry made only of HTTP attributes becomes an empty match,
	// which ztunnel skips, so upstream's DENY never fires (istio/istio#61126).
	// Unless UpstreamL7Deny, such a clause is dropped from a DENY so the rule is
	// enforced without it.
	divergeDeny := action == security.Action_DENY && !c.UpstreamL7Deny
	var rules []*security.Rules

	toMatches, toDrop := []*security.Match{}, false
	for _, to := range rule.GetTo() {
		op := to.GetOperation()
		isL7 := note(httpOperations(op))
		m := &security.Match{DestinationPorts: stringToPort(op.GetPorts()), NotDestinationPorts: stringToPort(op.GetNotPorts())}
		toDrop = toDrop || (isL7 && emptyMatch(m))
		toMatches = append(toMatches, m)
	}
	if len(toMatches) > 0 && !(divergeDeny && toDrop) {
		rules = append(rules, &security.Rules{Matches: toMatches})
	}

	fromMatches, fromDrop := []*security.Match{}, false
	for _, from := range rule.GetFrom() {
		src := from.GetSource()
		isL7 := note(httpSources(src))
		m := &security.Match{
			SourceIps:          stringToIP(src.GetIpBlocks()),
			NotSourceIps:       stringToIP(src.GetNotIpBlocks()),
			Namespaces:         stringToMatch(src.GetNamespaces()),
			NotNamespaces:      stringToMatch(src.GetNotNamespaces()),
			ServiceAccounts:    stringToServiceAccountMatch(src.GetServiceAccounts(), ns),
			NotServiceAccounts: stringToServiceAccountMatch(src.GetNotServiceAccounts(), ns),
			Principals:         stringToMatch(src.GetPrincipals()),
			NotPrincipals:      stringToMatch(src.GetNotPrincipals()),
		}
		fromDrop = fromDrop || (isL7 && emptyMatch(m))
		fromMatches = append(fromMatches, m)
	}
	if len(fromMatches) > 0 && !(divergeDeny && fromDrop) {
		rules = append(rules, &security.Rules{Matches: fromMatches})
	}

	for _, when := range rule.GetWhen() {
		key := when.GetKey()
		if !l4WhenAttributes[key] {
			note([]string{key})
			if divergeDeny {
				continue
			}
		}
		rules = append(rules, &security.Rules{Matches: []*security.Match{whenToMatch(when)}})
	}

	if action == security.Action_ALLOW && hasL7 {
		return nil // an ALLOW rule with HTTP attributes never matches at L4
	}
	if rules == nil {
		// Upstream always returns a non-nil slice here: an empty rule still makes
		// a group, which matches everything (Istio `rules: [{}]`).
		rules = []*security.Rules{}
	}
	return rules
}

func emptyMatch(m *security.Match) bool {
	return len(m.Namespaces)+len(m.NotNamespaces)+len(m.ServiceAccounts)+len(m.NotServiceAccounts)+
		len(m.Principals)+len(m.NotPrincipals)+len(m.SourceIps)+len(m.NotSourceIps)+
		len(m.DestinationIps)+len(m.NotDestinationIps)+len(m.DestinationPorts)+len(m.NotDestinationPorts) == 0
}

// l4WhenAttributes are the condition keys ztunnel can evaluate (upstream list).
var l4WhenAttributes = map[string]bool{
	"source.ip": true, "source.namespace": true, "source.principal": true,
	"destination.ip": true, "destination.port": true,
}

func whenToMatch(w *v1beta1.Condition) *security.Match {
	m := &security.Match{}
	switch w.GetKey() {
	case "source.namespace":
		m.Namespaces, m.NotNamespaces = stringToMatch(w.GetValues()), stringToMatch(w.GetNotValues())
	case "source.principal":
		m.Principals, m.NotPrincipals = stringToMatch(w.GetValues()), stringToMatch(w.GetNotValues())
	case "source.ip":
		m.SourceIps, m.NotSourceIps = stringToIP(w.GetValues()), stringToIP(w.GetNotValues())
	case "destination.port":
		m.DestinationPorts, m.NotDestinationPorts = stringToPort(w.GetValues()), stringToPort(w.GetNotValues())
	case "destination.ip":
		m.DestinationIps, m.NotDestinationIps = stringToIP(w.GetValues()), stringToIP(w.GetNotValues())
	}
	return m
}

// httpOperations and httpSources list the HTTP-only fields present, with the
// names upstream reports.
func httpOperations(op *v1beta1.Operation) []string {
	var found []string
	for _, f := range []struct {
		name string
		n    int
	}{
		{"hosts", len(op.GetHosts())}, {"notHosts", len(op.GetNotHosts())},
		{"methods", len(op.GetMethods())}, {"notMethods", len(op.GetNotMethods())},
		{"paths", len(op.GetPaths())}, {"notPaths", len(op.GetNotPaths())},
	} {
		if f.n > 0 {
			found = append(found, f.name)
		}
	}
	return found
}

func httpSources(s *v1beta1.Source) []string {
	var found []string
	for _, f := range []struct {
		name string
		n    int
	}{
		{"remoteIpBlocks", len(s.GetRemoteIpBlocks())}, {"notRemoteIpBlocks", len(s.GetNotRemoteIpBlocks())},
		{"requestPrincipals", len(s.GetRequestPrincipals())}, {"notRequestPrincipals", len(s.GetNotRequestPrincipals())},
	} {
		if f.n > 0 {
			found = append(found, f.name)
		}
	}
	return found
}

// stringToMatch: "*" → presence, "*x" → suffix, "x*" → prefix, else exact.
// Always literal (never a regex), as upstream.
func stringToMatch(vs []string) []*security.StringMatch {
	out := make([]*security.StringMatch, 0, len(vs))
	for _, v := range vs {
		var sm *security.StringMatch
		switch {
		case v == "*":
			sm = &security.StringMatch{MatchType: &security.StringMatch_Presence{}}
		case strings.HasPrefix(v, "*"):
			sm = &security.StringMatch{MatchType: &security.StringMatch_Suffix{Suffix: v[1:]}}
		case strings.HasSuffix(v, "*"):
			sm = &security.StringMatch{MatchType: &security.StringMatch_Prefix{Prefix: v[:len(v)-1]}}
		default:
			sm = &security.StringMatch{MatchType: &security.StringMatch_Exact{Exact: v}}
		}
		out = append(out, sm)
	}
	return out
}

// stringToServiceAccountMatch: "ns/sa", or "sa" in the policy's namespace.
func stringToServiceAccountMatch(vs []string, ns string) []*security.ServiceAccountMatch {
	out := make([]*security.ServiceAccountMatch, 0, len(vs))
	for _, v := range vs {
		if n, sa, ok := strings.Cut(v, "/"); ok {
			out = append(out, &security.ServiceAccountMatch{Namespace: n, ServiceAccount: sa})
		} else {
			out = append(out, &security.ServiceAccountMatch{Namespace: ns, ServiceAccount: v})
		}
	}
	return out
}

// stringToPort drops what is not a number ≤ 65535 (e.g. named ports), as
// upstream does; validation should have rejected those.
func stringToPort(vs []string) []uint32 {
	out := make([]uint32, 0, len(vs))
	for _, v := range vs {
		p, err := strconv.ParseUint(v, 10, 32)
		if err != nil || p > 65535 {
			continue
		}
		out = append(out, uint32(p))
	}
	return out
}

// stringToIP converts an address or CIDR; unparsable values are dropped as
// upstream does. A bare address gets a full-length prefix.
func stringToIP(vs []string) []*security.Address {
	out := make([]*security.Address, 0, len(vs))
	for _, v := range vs {
		var addr netip.Addr
		var bits int
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				continue
			}
			addr, bits = p.Addr(), p.Bits()
		} else {
			a, err := netip.ParseAddr(v)
			if err != nil {
				continue
			}
			addr, bits = a, a.BitLen()
		}
		out = append(out, &security.Address{Address: addr.AsSlice(), Length: uint32(bits)})
	}
	return out
}
