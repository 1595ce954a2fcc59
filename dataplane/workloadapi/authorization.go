package workloadapi

import (
	"fmt"
	"net/netip"

	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// PolicyFromWire converts the workload-API form into the data plane model, as ztunnel
// `rbac.rs` TryFrom<XdsRbac> does: groups → rules, rules → clauses, matches kept.
// Unlike ztunnel, which silently drops addresses it cannot parse (shrinking a
// positive list can widen a match), an invalid address or port is an error, so
// the xDS edge NACKs the update and the previous policies stay (fail closed).
func PolicyFromWire(a *security.Authorization) (*policy.Policy, error) {
	if a == nil {
		return nil, fmt.Errorf("authorization: nil authorization")
	}
	p := &policy.Policy{Name: a.GetName(), Namespace: a.GetNamespace(), DryRun: a.GetDryRun()}
	switch a.GetScope() {
	case security.Scope_GLOBAL:
		p.Scope = policy.ScopeGlobal
	case security.Scope_NAMESPACE:
		p.Scope = policy.ScopeNamespace
	case security.Scope_WORKLOAD_SELECTOR:
		p.Scope = policy.ScopeWorkloadSelector
	default:
		return nil, fmt.Errorf("authorization: %s/%s: unknown scope %v", p.Namespace, p.Name, a.GetScope())
	}
	switch a.GetAction() {
	case security.Action_ALLOW:
		p.Action = policy.ActionAllow
	case security.Action_DENY:
		p.Action = policy.ActionDeny
	default:
		return nil, fmt.Errorf("authorization: %s/%s: unknown action %v", p.Namespace, p.Name, a.GetAction())
	}
	for _, g := range a.GetGroups() {
		r := policy.Rule{}
		for _, rs := range g.GetRules() {
			c := policy.Clause{}
			for _, m := range rs.GetMatches() {
				pm, err := matchFromWire(m)
				if err != nil {
					return nil, fmt.Errorf("authorization: %s/%s: %w", p.Namespace, p.Name, err)
				}
				c.Matches = append(c.Matches, pm)
			}
			r.Clauses = append(r.Clauses, c)
		}
		p.Rules = append(p.Rules, r)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func matchFromWire(m *security.Match) (policy.Match, error) {
	var out policy.Match
	var err error
	strs := func(in []*security.StringMatch) []policy.StringMatch {
		var r []policy.StringMatch
		for _, s := range in {
			sm, e := stringFromWire(s)
			if e != nil && err == nil {
				err = e
			}
			r = append(r, sm)
		}
		return r
	}
	ips := func(in []*security.Address) []netip.Prefix {
		var r []netip.Prefix
		for _, a := range in {
			pr, e := prefixFromWire(a)
			if e != nil && err == nil {
				err = e
			}
			r = append(r, pr)
		}
		return r
	}
	ports := func(in []uint32) []uint16 {
		var r []uint16
		for _, p := range in {
			if p > 65535 && err == nil {
				err = fmt.Errorf("port %d out of range", p)
			}
			r = append(r, uint16(p))
		}
		return r
	}
	sas := func(in []*security.ServiceAccountMatch) []policy.ServiceAccountMatch {
		var r []policy.ServiceAccountMatch
		for _, s := range in {
			r = append(r, policy.ServiceAccountMatch{Namespace: s.GetNamespace(), ServiceAccount: s.GetServiceAccount()})
		}
		return r
	}
	out.Namespaces, out.NotNamespaces = strs(m.GetNamespaces()), strs(m.GetNotNamespaces())
	out.ServiceAccounts, out.NotServiceAccounts = sas(m.GetServiceAccounts()), sas(m.GetNotServiceAccounts())
	out.Principals, out.NotPrincipals = strs(m.GetPrincipals()), strs(m.GetNotPrincipals())
	out.SourceIPs, out.NotSourceIPs = ips(m.GetSourceIps()), ips(m.GetNotSourceIps())
	out.DestinationIPs, out.NotDestinationIPs = ips(m.GetDestinationIps()), ips(m.GetNotDestinationIps())
	out.DestinationPorts, out.NotDestinationPorts = ports(m.GetDestinationPorts()), ports(m.GetNotDestinationPorts())
	return out, err
}

func stringFromWire(s *security.StringMatch) (policy.StringMatch, error) {
	switch t := s.GetMatchType().(type) {
	case *security.StringMatch_Exact:
		return policy.Exact(t.Exact), nil
	case *security.StringMatch_Prefix:
		return policy.Prefix(t.Prefix), nil
	case *security.StringMatch_Suffix:
		return policy.Suffix(t.Suffix), nil
	case *security.StringMatch_Presence:
		return policy.Presence(), nil
	}
	return policy.StringMatch{}, fmt.Errorf("string match without a type")
}

// prefixFromWire builds a canonical prefix; an IPv4-mapped IPv6 prefix becomes
// its IPv4 form, since the evaluator compares canonical (unmapped) addresses.
func prefixFromWire(a *security.Address) (netip.Prefix, error) {
	addr, ok := netip.AddrFromSlice(a.GetAddress())
	if !ok {
		return netip.Prefix{}, fmt.Errorf("address of %d bytes", len(a.GetAddress()))
	}
	bits := int(a.GetLength())
	if addr.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix %v/%d shorter than /96", addr, bits)
		}
		addr, bits = addr.Unmap(), bits-96
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}
