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

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// WaypointPolicies converts the AuthorizationPolicies attached to t by
// targetRefs into the data plane model with every L7 field, for the waypoint
// to Evaluate. It mirrors istio `pilot/pkg/security/authz/model` (the
// generators behind the waypoint's RBAC filter), in literal matchers:
//   - CUSTOM becomes policy.ActionCustom, which the engine enforces as a deny
//     on match (no external authorizer: fail closed), with a warning;
//   - a `when` key the waypoint cannot evaluate makes an ALLOW rule match
//     nothing and is dropped from a DENY rule (so it matches more), as istiod
//     does for ztunnel with HTTP fields;
//   - port-less `hosts` values match the host with any port (W4), values with
//     a port match it exactly; both ignore case.
func (c Config) WaypointPolicies(aps []*securityv1.AuthorizationPolicy, t WaypointTarget) ([]*policy.Policy, []Warning) {
	var out []*policy.Policy
	var warnings []Warning
	for _, ap := range aps {
		spec := &ap.Spec
		if !c.attaches(ap.Namespace, targetRefsOf(spec.GetTargetRefs(), spec.GetTargetRef()), t) {
			continue
		}
		p, ws := c.waypointPolicy(ap)
		warnings = append(warnings, ws...)
		if p != nil {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, warnings
}

func (c Config) waypointPolicy(ap *securityv1.AuthorizationPolicy) (*policy.Policy, []Warning) {
	var warnings []Warning
	warn := func(msg string) {
		warnings = append(warnings, Warning{Kind: kindAuthorizationPolicy, Namespace: ap.Namespace, Name: ap.Name, Reason: reasonUnsupportedValue, Message: msg})
	}
	dryRun, _ := strconv.ParseBool(ap.Annotations[annotation.IoIstioDryRun.Name])
	if dryRun && !c.EnableDryRun {
		warn(fmt.Sprintf(dryRunDisabledFmt, ap.Namespace, ap.Name))
		return nil, warnings
	}
	p := &policy.Policy{Name: ap.Name, Namespace: ap.Namespace, Scope: policy.ScopeWorkloadSelector, DryRun: dryRun}
	switch ap.Spec.GetAction() {
	case v1beta1.AuthorizationPolicy_ALLOW:
		p.Action = policy.ActionAllow
	case v1beta1.AuthorizationPolicy_DENY:
		p.Action = policy.ActionDeny
	case v1beta1.AuthorizationPolicy_AUDIT:
		p.Action = policy.ActionAudit
	case v1beta1.AuthorizationPolicy_CUSTOM:
		p.Action = policy.ActionCustom
		warn("the reference waypoint has no external authorizer: CUSTOM denies whatever it matches")
	}
	for _, r := range ap.Spec.GetRules() {
		rule, unsupported := waypointRule(r, ap.Namespace, p.Action == policy.ActionAllow || p.Action == policy.ActionAudit)
		for _, k := range unsupported {
			warn(fmt.Sprintf("condition %q is not supported by the reference waypoint", k))
		}
		if rule != nil {
			p.Rules = append(p.Rules, *rule)
		}
	}
	return p, warnings
}

// waypointRule converts one rule; nil means "never matches" (an ALLOW rule
// with an unsupported condition).
func waypointRule(r *v1beta1.Rule, ns string, dropOnUnsupported bool) (*policy.Rule, []string) {
	out := &policy.Rule{}
	if tos := r.GetTo(); len(tos) > 0 {
		var ms []policy.Match
		for _, to := range tos {
			ms = append(ms, operationMatches(to.GetOperation())...)
		}
		out.Clauses = append(out.Clauses, policy.Clause{Matches: ms})
	}
	if froms := r.GetFrom(); len(froms) > 0 {
		var ms []policy.Match
		for _, from := range froms {
			ms = append(ms, sourceMatch(from.GetSource(), ns))
		}
		out.Clauses = append(out.Clauses, policy.Clause{Matches: ms})
	}
	var unsupported []string
	for _, w := range r.GetWhen() {
		m, ok := conditionMatch(w)
		if !ok {
			unsupported = append(unsupported, w.GetKey())
			if dropOnUnsupported {
				return nil, unsupported
			}
			continue
		}
		out.Clauses = append(out.Clauses, policy.Clause{Matches: []policy.Match{m}})
	}
	return out, unsupported
}

func patterns(vs []string) []policy.StringMatch {
	var out []policy.StringMatch
	for _, v := range vs {
		out = append(out, policy.StringMatchFromPattern(v))
	}
	return out
}

func prefixes(vs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range stringToIP(vs) {
		if ip, ok := netip.AddrFromSlice(a.Address); ok {
			out = append(out, netip.PrefixFrom(ip.Unmap(), int(a.Length)-ipv4MappedBits(ip)))
		}
	}
	return out
}

func ipv4MappedBits(ip netip.Addr) int {
	if ip.Is4In6() {
		return 96
	}
	return 0
}

func ports(vs []string) []uint16 {
	var out []uint16
	for _, p := range stringToPort(vs) {
		out = append(out, uint16(p))
	}
	return out
}

func sourceMatch(s *v1beta1.Source, ns string) policy.Match {
	m := policy.Match{
		Principals: patterns(s.GetPrincipals()), NotPrincipals: patterns(s.GetNotPrincipals()),
		RequestPrincipals: patterns(s.GetRequestPrincipals()), NotRequestPrincipals: patterns(s.GetNotRequestPrincipals()),
		Namespaces: patterns(s.GetNamespaces()), NotNamespaces: patterns(s.GetNotNamespaces()),
		SourceIPs: prefixes(s.GetIpBlocks()), NotSourceIPs: prefixes(s.GetNotIpBlocks()),
		RemoteIPs: prefixes(s.GetRemoteIpBlocks()), NotRemoteIPs: prefixes(s.GetNotRemoteIpBlocks()),
	}
	for _, sa := range stringToServiceAccountMatch(s.GetServiceAccounts(), ns) {
		m.ServiceAccounts = append(m.ServiceAccounts, policy.ServiceAccountMatch{Namespace: sa.Namespace, ServiceAccount: sa.ServiceAccount})
	}
	for _, sa := range stringToServiceAccountMatch(s.GetNotServiceAccounts(), ns) {
		m.NotServiceAccounts = append(m.NotServiceAccounts, policy.ServiceAccountMatch{Namespace: sa.Namespace, ServiceAccount: sa.ServiceAccount})
	}
	// trustDomains: a principal "<td>/ns/..." (istio trustDomainGenerator).
	for _, td := range s.GetTrustDomains() {
		m.Principals = append(m.Principals, policy.Prefix(td+"/"))
	}
	for _, td := range s.GetNotTrustDomains() {
		m.NotPrincipals = append(m.NotPrincipals, policy.Prefix(td+"/"))
	}
	return m
}

// operationMatches returns one Match, or two when positive hosts mix values
// with and without a port: those are matched against different attributes,
// and a clause ORs its matches.
func operationMatches(op *v1beta1.Operation) []policy.Match {
	base := policy.Match{
		Methods: op.GetMethods(), NotMethods: op.GetNotMethods(),
		Paths: patterns(op.GetPaths()), NotPaths: patterns(op.GetNotPaths()),
		DestinationPorts: ports(op.GetPorts()), NotDestinationPorts: ports(op.GetNotPorts()),
	}
	withPort, portless := splitHosts(op.GetNotHosts())
	base.NotHosts = withPort
	if len(portless) > 0 {
		base.Headers = append(base.Headers, policy.HeaderMatch{Name: policy.AttrAuthorityHost, NotValues: portless})
	}
	withPort, portless = splitHosts(op.GetHosts())
	switch {
	case len(withPort) == 0 && len(portless) == 0:
		return []policy.Match{base}
	case len(portless) == 0:
		base.Hosts = withPort
		return []policy.Match{base}
	}
	byHost := base
	byHost.Headers = append(append([]policy.HeaderMatch{}, base.Headers...), policy.HeaderMatch{Name: policy.AttrAuthorityHost, Values: portless})
	if len(withPort) == 0 {
		return []policy.Match{byHost}
	}
	base.Hosts = withPort
	return []policy.Match{base, byHost}
}

// splitHosts separates "host:port" values (matched case-insensitively against
// the full authority) from port-less ones (matched against the lower-cased
// host without port, hence lower-cased here).
func splitHosts(vs []string) (withPort, portless []policy.StringMatch) {
	for _, v := range vs {
		if i := strings.LastIndexByte(v, ':'); i >= 0 && !strings.HasSuffix(v, "]") {
			withPort = append(withPort, policy.StringMatchFromPattern(v))
			continue
		}
		portless = append(portless, policy.StringMatchFromPattern(strings.ToLower(v)))
	}
	return withPort, portless
}

// conditionMatch converts a `when` condition (istio.io AuthorizationPolicy
// "Authorization Policy Conditions").
func conditionMatch(w *v1beta1.Condition) (policy.Match, bool) {
	key, vals, nots := w.GetKey(), w.GetValues(), w.GetNotValues()
	header := func(name string) policy.Match {
		return policy.Match{Headers: []policy.HeaderMatch{{Name: name, Values: patterns(vals), NotValues: patterns(nots)}}}
	}
	switch {
	case key == "source.ip":
		return policy.Match{SourceIPs: prefixes(vals), NotSourceIPs: prefixes(nots)}, true
	case key == "remote.ip":
		return policy.Match{RemoteIPs: prefixes(vals), NotRemoteIPs: prefixes(nots)}, true
	case key == "source.namespace":
		return policy.Match{Namespaces: patterns(vals), NotNamespaces: patterns(nots)}, true
	case key == "source.principal":
		return policy.Match{Principals: patterns(vals), NotPrincipals: patterns(nots)}, true
	case key == "destination.ip":
		return policy.Match{DestinationIPs: prefixes(vals), NotDestinationIPs: prefixes(nots)}, true
	case key == "destination.port":
		return policy.Match{DestinationPorts: ports(vals), NotDestinationPorts: ports(nots)}, true
	case key == "request.auth.principal":
		return policy.Match{RequestPrincipals: patterns(vals), NotRequestPrincipals: patterns(nots)}, true
	case key == "request.auth.audiences":
		return header(policy.AttrRequestAudiences), true
	case key == "request.auth.presenter":
		return header(policy.AttrRequestPresenter), true
	case strings.HasPrefix(key, "request.headers[") && strings.HasSuffix(key, "]"):
		name := key[len("request.headers[") : len(key)-1]
		if name == "" || strings.ContainsAny(name, "[]") {
			return policy.Match{}, false
		}
		return header(name), true
	case strings.HasPrefix(key, "request.auth.claims["):
		path, ok := claimPath(key[len("request.auth.claims"):])
		if !ok {
			return policy.Match{}, false
		}
		return header(policy.ClaimAttribute(path...)), true
	}
	return policy.Match{}, false
}

// claimPath parses "[a][b]" (istio extractNameInNestedBrackets).
func claimPath(s string) ([]string, bool) {
	var out []string
	for s != "" {
		if s[0] != '[' {
			return nil, false
		}
		end := strings.IndexByte(s, ']')
		if end <= 1 {
			return nil, false
		}
		out = append(out, s[1:end])
		s = s[end+1:]
	}
	return out, len(out) > 0
}
