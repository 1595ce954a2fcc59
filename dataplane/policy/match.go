package policy

import (
	"net/netip"
	"strings"
)

// Matches reports whether the policy's rules match attrs, ignoring its action
// except for the L7 fail-closed rule (see Attributes.Request). It mirrors ztunnel
// `rbac.rs` Authorization::matches: rules ORed, clauses ANDed, matches ORed, and
// the three emptiness rules (no rules → false, empty clause → true, empty match
// skipped).
func (p *Policy) Matches(attrs *Attributes) bool {
	for i := range p.Rules {
		if p.ruleMatches(&p.Rules[i], attrs) {
			return true
		}
	}
	return false
}

func (p *Policy) ruleMatches(r *Rule, attrs *Attributes) bool {
	for i := range r.Clauses {
		if !p.clauseMatches(&r.Clauses[i], attrs) {
			return false
		}
	}
	return true
}

func (p *Policy) clauseMatches(c *Clause, attrs *Attributes) bool {
	if len(c.Matches) == 0 {
		return true
	}
	for i := range c.Matches {
		m := &c.Matches[i]
		if m.empty() {
			continue
		}
		if matchL4(m, attrs) && p.matchL7(m, attrs) {
			return true
		}
	}
	return false
}

// matchL4 evaluates the fields ztunnel knows, in ztunnel's order.
func matchL4(m *Match, a *Attributes) bool {
	src, dst := a.SourceIP.Unmap(), a.DestinationIP.Unmap() // ztunnel to_canonical
	principal, ns := "", ""
	if a.Source != nil {
		principal, ns = a.Source.Principal(), a.Source.Namespace
	}
	return prefixes(m.DestinationIPs, m.NotDestinationIPs, dst) &&
		prefixes(m.SourceIPs, m.NotSourceIPs, src) &&
		ports(m.DestinationPorts, m.NotDestinationPorts, a.DestinationPort) &&
		serviceAccounts(m.ServiceAccounts, m.NotServiceAccounts, a.Source) &&
		identityStrings(m.Principals, m.NotPrincipals, principal, a.Source != nil) &&
		identityStrings(m.Namespaces, m.NotNamespaces, ns, a.Source != nil)
}

// matchL7 evaluates request fields. Without a request it fails closed by action:
// a DENY is enforced without its L7 parts, anything else does not match.
func (p *Policy) matchL7(m *Match, a *Attributes) bool {
	if !m.hasL7() {
		return true
	}
	r := a.Request
	if r == nil {
		return p.Action == ActionDeny
	}
	remote := r.RemoteIP
	if !remote.IsValid() {
		remote = a.SourceIP
	}
	return foldStrings(m.Hosts, m.NotHosts, r.Host) &&
		methods(m.Methods, m.NotMethods, r.Method) &&
		strs(m.Paths, m.NotPaths, r.Path) &&
		// No validated token means no request principal: like plaintext for
		// principals, positive matchers fail and negative ones hold.
		identityStrings(m.RequestPrincipals, m.NotRequestPrincipals, r.RequestPrincipal, r.RequestPrincipal != "") &&
		prefixes(m.RemoteIPs, m.NotRemoteIPs, remote.Unmap()) &&
		headers(m.Headers, r.Headers)
}

// Each helper below is ztunnel's matches_internal for one field type: the
// positive list (if any) must contain a hit and the negative list (if any) must
// not.

func prefixes(pos, neg []netip.Prefix, ip netip.Addr) bool {
	if len(pos) > 0 && !anyPrefix(pos, ip) {
		return false
	}
	return len(neg) == 0 || !anyPrefix(neg, ip)
}

func anyPrefix(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func ports(pos, neg []uint16, port uint16) bool {
	if len(pos) > 0 && !anyPort(pos, port) {
		return false
	}
	return len(neg) == 0 || !anyPort(neg, port)
}

func anyPort(ps []uint16, port uint16) bool {
	for _, p := range ps {
		if p == port {
			return true
		}
	}
	return false
}

func serviceAccounts(pos, neg []ServiceAccountMatch, id *Identity) bool {
	if len(pos) > 0 && !anyServiceAccount(pos, id) {
		return false
	}
	return len(neg) == 0 || !anyServiceAccount(neg, id)
}

func anyServiceAccount(sas []ServiceAccountMatch, id *Identity) bool {
	if id == nil {
		return false
	}
	for _, sa := range sas {
		if sa.Namespace == id.Namespace && sa.ServiceAccount == id.ServiceAccount {
			return true
		}
	}
	return false
}

// identityStrings matches a value that exists only with an identity: without
// one, no matcher (not even Exact("")) is a hit, so positive lists fail and
// negative lists hold — which is what makes STRICT's DENY notPrincipals[*] catch
// plaintext.
func identityStrings(pos, neg []StringMatch, v string, present bool) bool {
	if len(pos) > 0 && (!present || !anyString(pos, v)) {
		return false
	}
	return len(neg) == 0 || !present || !anyString(neg, v)
}

func strs(pos, neg []StringMatch, v string) bool {
	if len(pos) > 0 && !anyString(pos, v) {
		return false
	}
	return len(neg) == 0 || !anyString(neg, v)
}

func anyString(ms []StringMatch, v string) bool {
	for _, m := range ms {
		if m.Matches(v) {
			return true
		}
	}
	return false
}

func foldStrings(pos, neg []StringMatch, v string) bool {
	if len(pos) > 0 && !anyFold(pos, v) {
		return false
	}
	return len(neg) == 0 || !anyFold(neg, v)
}

func anyFold(ms []StringMatch, v string) bool {
	for _, m := range ms {
		if m.matchesFold(v) {
			return true
		}
	}
	return false
}

func methods(pos, neg []string, v string) bool {
	if len(pos) > 0 && !anyMethod(pos, v) {
		return false
	}
	return len(neg) == 0 || !anyMethod(neg, v)
}

func anyMethod(ms []string, v string) bool {
	for _, m := range ms {
		if m == v {
			return true
		}
	}
	return false
}

func headers(hms []HeaderMatch, h map[string][]string) bool {
	for i := range hms {
		if !headerMatches(&hms[i], h) {
			return false
		}
	}
	return true
}

// headerMatches: some value of the header must hit Values (if set) and no value
// may hit NotValues. An absent header therefore fails Values but satisfies
// NotValues, as Envoy's not_rule over a header matcher does for Istio `when`.
func headerMatches(hm *HeaderMatch, h map[string][]string) bool {
	pos, neg := false, false
	for name, vals := range h {
		if !strings.EqualFold(name, hm.Name) {
			continue
		}
		for _, v := range vals {
			pos = pos || anyString(hm.Values, v)
			neg = neg || anyString(hm.NotValues, v)
		}
	}
	return (len(hm.Values) == 0 || pos) && !neg
}
