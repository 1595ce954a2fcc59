package xds

import (
	"fmt"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

func (lp localPolicy) toState() (*policy.Policy, error) {
	p := &policy.Policy{Name: lp.Name, Namespace: lp.Namespace, DryRun: lp.DryRun}
	switch lp.Scope { // ztunnel RbacScope variant names
	case "Global":
		p.Scope = policy.ScopeGlobal
	case "Namespace":
		p.Scope = policy.ScopeNamespace
	case "WorkloadSelector":
		p.Scope = policy.ScopeWorkloadSelector
	default:
		return nil, fmt.Errorf("unknown scope %q (want Global, Namespace or WorkloadSelector)", lp.Scope)
	}
	switch lp.Action {
	case "Allow":
		p.Action = policy.ActionAllow
	case "Deny":
		p.Action = policy.ActionDeny
	default:
		return nil, fmt.Errorf("unknown action %q (want Allow or Deny)", lp.Action)
	}
	for _, rule := range lp.Rules {
		r := policy.Rule{}
		for _, clause := range rule {
			c := policy.Clause{}
			for _, lm := range clause {
				m, err := lm.toState()
				if err != nil {
					return nil, err
				}
				c.Matches = append(c.Matches, m)
			}
			r.Clauses = append(r.Clauses, c)
		}
		p.Rules = append(p.Rules, r)
	}
	return p, p.Validate()
}

func (lm localRbacMatch) toState() (policy.Match, error) {
	var m policy.Match
	var err error
	strs := func(in []map[string]any) []policy.StringMatch {
		var out []policy.StringMatch
		for _, s := range in {
			sm, e := localStringMatch(s)
			if e != nil && err == nil {
				err = e
			}
			out = append(out, sm)
		}
		return out
	}
	prefixes := func(in []string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range in {
			p, e := netip.ParsePrefix(s)
			if e != nil {
				a, e2 := netip.ParseAddr(s)
				if e2 != nil {
					if err == nil {
						err = e
					}
					continue
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			out = append(out, p.Masked())
		}
		return out
	}
	m.Namespaces, m.NotNamespaces = strs(lm.Namespaces), strs(lm.NotNamespaces)
	m.Principals, m.NotPrincipals = strs(lm.Principals), strs(lm.NotPrincipals)
	m.SourceIPs, m.NotSourceIPs = prefixes(lm.SourceIPs), prefixes(lm.NotSourceIPs)
	m.DestinationIPs, m.NotDestinationIPs = prefixes(lm.DestinationIPs), prefixes(lm.NotDestinationIPs)
	m.DestinationPorts, m.NotDestinationPorts = lm.DestinationPorts, lm.NotDestinationPorts
	return m, err
}

// localStringMatch decodes serde's external tagging of ztunnel StringMatch.
func localStringMatch(s map[string]any) (policy.StringMatch, error) {
	if len(s) != 1 {
		return policy.StringMatch{}, fmt.Errorf("string match %v: want exactly one of Exact, Prefix, Suffix, Presence", s)
	}
	for k, v := range s {
		str, _ := v.(string)
		switch k {
		case "Exact":
			return policy.Exact(str), nil
		case "Prefix":
			return policy.Prefix(str), nil
		case "Suffix":
			return policy.Suffix(str), nil
		case "Presence":
			return policy.Presence(), nil
		}
		return policy.StringMatch{}, fmt.Errorf("unknown string match %q", k)
	}
	panic("unreachable")
}
