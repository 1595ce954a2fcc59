package policy_test

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// FuzzPolicyMatch (reliability G1) differentially checks Evaluate against refDecide,
// a brute-force evaluator written from the spec in a different style: regexes for
// string matching, net.IPNet for CIDRs, filter-then-pick for ordering.
func FuzzPolicyMatch(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("\xff\x00\xff\x00\x13\x37\x42\x99\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"))
	f.Add([]byte("policy-fuzz-seed: strict plus allow with L7 and headers......"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		ps := g.policies()
		a := g.attrs()
		got := policy.Evaluate(ps, a)
		want, wantDry, hasDry := refEvaluate(ps, a)
		if got.Verdict != want || got.HasDryRun != hasDry || (hasDry && got.DryRun != wantDry) {
			t.Fatalf("Evaluate = %+v, reference = %+v dry=%v %+v\npolicies: %s\nattrs: %+v req=%+v",
				got, want, hasDry, wantDry, dump(ps), a, a.Request)
		}
	})
}

// gen turns fuzz bytes into small policies over deliberately colliding pools.
type gen struct {
	data []byte
	i    int
}

func (g *gen) next() int {
	if g.i >= len(g.data) {
		return 0
	}
	g.i++
	return int(g.data[g.i-1])
}

func pick[T any](g *gen, pool []T) T { return pool[g.next()%len(pool)] }

func some[T any](g *gen, pool []T) []T {
	n := g.next() % 4
	if n == 3 { // bias towards empty fields so matches stay satisfiable
		n = 0
	}
	var out []T
	for range n {
		out = append(out, pick(g, pool))
	}
	return out
}

var (
	principalPool = []string{"cluster.local/ns/foo/sa/sleep", "cluster.local/ns/foo/*", "*/sa/sleep", "*", "cluster.local/ns/bar/sa/a.b", "", "*sleep", "spiffe://cluster.local/ns/foo/sa/sleep"}
	nsPool        = []string{"foo", "bar", "f*", "*", "", "*o"}
	saPool        = []policy.ServiceAccountMatch{{Namespace: "foo", ServiceAccount: "sleep"}, {Namespace: "bar", ServiceAccount: "a.b"}, {Namespace: "foo", ServiceAccount: "other"}}
	prefixPool    = []string{"10.0.0.0/24", "10.0.0.1/32", "0.0.0.0/0", "fd00::/8", "::/0", "10.0.0.0/8"}
	portPool      = []uint16{80, 8080, 9090, 0}
	methodPool    = []string{"GET", "POST", "get"}
	pathPool      = []string{"/api/*", "/admin", "*", "*.js", "/"}
	hostPool      = []string{"Example.com", "*.example.com", "*", "example.*"}
	headerPool    = []string{"x-a", "X-B"}
	hvalPool      = []string{"bad", "ok*", "*", "ok,bad"}
	idPool        = []*policy.Identity{nil, ident("foo", "sleep"), ident("foo", "other"), ident("bar", "a.b"), ident("bar", "aXb"), policy.NewIdentity("other.td", "foo", "sleep")}
	ipPool        = []string{"10.0.0.1", "::ffff:10.0.0.1", "10.0.1.5", "fd00::1", "192.168.1.1"}
	reqHostPool   = []string{"example.com", "EXAMPLE.COM", "a.example.com", ""}
	reqPathPool   = []string{"/api/x", "/admin", "/x.js", ""}
	reqPrinPool   = []string{"", "https://iss/alice", "cluster.local/ns/foo/sa/sleep"}
)

func (g *gen) patterns(pool []string) []policy.StringMatch {
	var out []policy.StringMatch
	for _, p := range some(g, pool) {
		out = append(out, policy.StringMatchFromPattern(p))
	}
	return out
}

func (g *gen) prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range some(g, prefixPool) {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func (g *gen) match() policy.Match {
	m := policy.Match{}
	fields := g.next()
	if fields&1 != 0 {
		m.Principals, m.NotPrincipals = g.patterns(principalPool), g.patterns(principalPool)
	}
	if fields&2 != 0 {
		m.Namespaces, m.NotNamespaces = g.patterns(nsPool), g.patterns(nsPool)
		m.ServiceAccounts, m.NotServiceAccounts = some(g, saPool), some(g, saPool)
	}
	if fields&4 != 0 {
		m.SourceIPs, m.NotSourceIPs = g.prefixes(), g.prefixes()
		m.DestinationIPs, m.NotDestinationIPs = g.prefixes(), g.prefixes()
	}
	if fields&8 != 0 {
		m.DestinationPorts, m.NotDestinationPorts = some(g, portPool), some(g, portPool)
	}
	if fields&16 != 0 {
		m.Methods, m.NotMethods = some(g, methodPool), some(g, methodPool)
		m.Paths, m.NotPaths = g.patterns(pathPool), g.patterns(pathPool)
	}
	if fields&32 != 0 {
		m.Hosts, m.NotHosts = g.patterns(hostPool), g.patterns(hostPool)
		m.RequestPrincipals, m.NotRequestPrincipals = g.patterns(reqPrinPool), g.patterns(reqPrinPool)
		m.RemoteIPs, m.NotRemoteIPs = g.prefixes(), g.prefixes()
	}
	if fields&64 != 0 {
		for _, name := range some(g, headerPool) {
			m.Headers = append(m.Headers, policy.HeaderMatch{Name: name, Values: g.patterns(hvalPool), NotValues: g.patterns(hvalPool)})
		}
	}
	return m
}

func (g *gen) policies() []*policy.Policy {
	n := g.next() % 5
	ps := make([]*policy.Policy, 0, n)
	for i := range n {
		if g.next()%23 == 0 {
			ps = append(ps, nil) // referenced but unknown
			continue
		}
		p := &policy.Policy{Name: fmt.Sprint("p", i), Namespace: "ns", Scope: policy.ScopeNamespace,
			Action: policy.Action(1 + g.next()%4), DryRun: g.next()%5 == 0}
		for range g.next() % 3 {
			var r policy.Rule
			for range g.next() % 3 {
				var c policy.Clause
				for range g.next() % 3 {
					c.Matches = append(c.Matches, g.match())
				}
				r.Clauses = append(r.Clauses, c)
			}
			p.Rules = append(p.Rules, r)
		}
		ps = append(ps, p)
	}
	return ps
}

func (g *gen) attrs() *policy.Attributes {
	a := &policy.Attributes{
		SourceIP:        netip.MustParseAddr(pick(g, ipPool)),
		Source:          pick(g, idPool),
		DestinationIP:   netip.MustParseAddr(pick(g, ipPool)),
		DestinationPort: pick(g, portPool),
	}
	if g.next()%2 == 1 {
		r := &policy.Request{Host: pick(g, reqHostPool), Method: pick(g, methodPool), Path: pick(g, reqPathPool),
			RequestPrincipal: pick(g, reqPrinPool), Headers: map[string][]string{}}
		if g.next()%2 == 1 {
			r.RemoteIP = netip.MustParseAddr(pick(g, ipPool))
		}
		for range g.next() % 3 {
			name := pick(g, []string{"x-a", "X-A", "x-b"})
			r.Headers[name] = append(r.Headers[name], pick(g, []string{"bad", "ok", "okbad", "ok,bad"}))
		}
		a.Request = r
	}
	return a
}

func dump(ps []*policy.Policy) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %+v", p)
	}
	return b.String()
}

// ---- reference evaluator ----

func refEvaluate(ps []*policy.Policy, a *policy.Attributes) (v, dry policy.Verdict, hasDry bool) {
	var enforced []*policy.Policy
	for _, p := range ps {
		if p == nil || !p.DryRun {
			enforced = append(enforced, p)
		} else {
			hasDry = true
		}
	}
	return refDecide(enforced, a), refDecide(ps, a), hasDry
}

func refDecide(ps []*policy.Policy, a *policy.Attributes) policy.Verdict {
	for _, p := range ps {
		if p == nil {
			return policy.Verdict{Reason: policy.ReasonUnknownPolicy}
		}
	}
	matching := func(act policy.Action) (first string, exists bool) {
		for _, p := range ps {
			if p.Action != act {
				continue
			}
			exists = true
			if first == "" && refPolicy(p, a) {
				first = p.Namespace + "/" + p.Name
			}
		}
		return first, exists
	}
	if k, _ := matching(policy.ActionCustom); k != "" {
		return policy.Verdict{Policy: k, Reason: policy.ReasonExplicitlyDenied}
	}
	if k, _ := matching(policy.ActionDeny); k != "" {
		return policy.Verdict{Policy: k, Reason: policy.ReasonExplicitlyDenied}
	}
	k, exists := matching(policy.ActionAllow)
	switch {
	case !exists:
		return policy.Verdict{Allowed: true, Reason: policy.ReasonNoAllowPolicies}
	case k != "":
		return policy.Verdict{Allowed: true, Policy: k, Reason: policy.ReasonAllowMatched}
	}
	return policy.Verdict{Reason: policy.ReasonNotAllowed}
}

func refPolicy(p *policy.Policy, a *policy.Attributes) bool {
	anyRule := false
	for _, r := range p.Rules {
		all := true
		for _, c := range r.Clauses {
			hit := len(c.Matches) == 0
			for _, m := range c.Matches {
				hit = hit || refMatch(m, p.Action, a)
			}
			all = all && hit
		}
		anyRule = anyRule || all
	}
	return anyRule
}

// check is one field: how many positive and negative values it has and whether
// value i of each list hits.
type check struct {
	l7       bool
	pos, neg int
	hitPos   func(int) bool
	hitNeg   func(int) bool
}

func (c check) holds() bool {
	exists := func(n int, f func(int) bool) bool {
		for i := 0; i < n; i++ {
			if f(i) {
				return true
			}
		}
		return false
	}
	return (c.pos == 0 || exists(c.pos, c.hitPos)) && (c.neg == 0 || !exists(c.neg, c.hitNeg))
}

func refMatch(m policy.Match, action policy.Action, a *policy.Attributes) bool {
	principal, ns, hasID := "", "", a.Source != nil
	if hasID {
		principal = strings.TrimPrefix(fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", a.Source.TrustDomain, a.Source.Namespace, a.Source.ServiceAccount), "spiffe://")
		ns = a.Source.Namespace
	}
	idStr := func(ms []policy.StringMatch, v string, ok bool) func(int) bool {
		return func(i int) bool { return ok && reMatch(ms[i], v, false) }
	}
	str := func(ms []policy.StringMatch, v string, fold bool) func(int) bool {
		return func(i int) bool { return reMatch(ms[i], v, fold) }
	}
	ip := func(ps []netip.Prefix, addr netip.Addr) func(int) bool {
		return func(i int) bool {
			_, n, err := net.ParseCIDR(ps[i].String())
			return err == nil && n.Contains(net.IP(addr.AsSlice()))
		}
	}
	sa := func(ms []policy.ServiceAccountMatch) func(int) bool {
		return func(i int) bool {
			return hasID && ms[i].Namespace == a.Source.Namespace && ms[i].ServiceAccount == a.Source.ServiceAccount
		}
	}
	port := func(ps []uint16) func(int) bool { return func(i int) bool { return ps[i] == a.DestinationPort } }

	checks := []check{
		{false, len(m.Principals), len(m.NotPrincipals), idStr(m.Principals, principal, hasID), idStr(m.NotPrincipals, principal, hasID)},
		{false, len(m.Namespaces), len(m.NotNamespaces), idStr(m.Namespaces, ns, hasID), idStr(m.NotNamespaces, ns, hasID)},
		{false, len(m.ServiceAccounts), len(m.NotServiceAccounts), sa(m.ServiceAccounts), sa(m.NotServiceAccounts)},
		{false, len(m.SourceIPs), len(m.NotSourceIPs), ip(m.SourceIPs, a.SourceIP), ip(m.NotSourceIPs, a.SourceIP)},
		{false, len(m.DestinationIPs), len(m.NotDestinationIPs), ip(m.DestinationIPs, a.DestinationIP), ip(m.NotDestinationIPs, a.DestinationIP)},
		{false, len(m.DestinationPorts), len(m.NotDestinationPorts), port(m.DestinationPorts), port(m.NotDestinationPorts)},
	}
	r := a.Request
	if r == nil {
		r = &policy.Request{}
	}
	remote := r.RemoteIP
	if !remote.IsValid() {
		remote = a.SourceIP
	}
	hasTok := r.RequestPrincipal != ""
	checks = append(checks,
		check{true, len(m.Hosts), len(m.NotHosts), str(m.Hosts, r.Host, true), str(m.NotHosts, r.Host, true)},
		check{true, len(m.Methods), len(m.NotMethods), func(i int) bool { return m.Methods[i] == r.Method }, func(i int) bool { return m.NotMethods[i] == r.Method }},
		check{true, len(m.Paths), len(m.NotPaths), str(m.Paths, r.Path, false), str(m.NotPaths, r.Path, false)},
		check{true, len(m.RequestPrincipals), len(m.NotRequestPrincipals), idStr(m.RequestPrincipals, r.RequestPrincipal, hasTok), idStr(m.NotRequestPrincipals, r.RequestPrincipal, hasTok)},
		check{true, len(m.RemoteIPs), len(m.NotRemoteIPs), ip(m.RemoteIPs, remote), ip(m.NotRemoteIPs, remote)},
	)
	for _, h := range m.Headers {
		var vals []string
		for k, vs := range r.Headers {
			if strings.ToLower(k) == strings.ToLower(h.Name) {
				vals = append(vals, vs...)
			}
		}
		hit := func(ms []policy.StringMatch) func(int) bool {
			return func(i int) bool {
				for _, v := range vals {
					if reMatch(ms[i], v, false) {
						return true
					}
				}
				return false
			}
		}
		checks = append(checks, check{true, len(h.Values), len(h.NotValues), hit(h.Values), hit(h.NotValues)})
		checks = append(checks, check{l7: true, pos: 1, hitPos: func(int) bool { return true }}) // marks the header as an L7 field
	}

	empty, l4ok, l7ok, hasL7 := true, true, true, false
	for _, c := range checks {
		if c.pos+c.neg == 0 {
			continue
		}
		empty = false
		if c.l7 {
			hasL7 = true
			l7ok = l7ok && c.holds()
		} else {
			l4ok = l4ok && c.holds()
		}
	}
	if empty {
		return false
	}
	if hasL7 && a.Request == nil {
		return l4ok && action == policy.ActionDeny
	}
	return l4ok && l7ok
}

func reMatch(m policy.StringMatch, v string, fold bool) bool {
	flags := "(?s)"
	if fold {
		flags = "(?is)"
	}
	q := regexp.QuoteMeta(m.Value)
	var re string
	switch m.Kind {
	case policy.MatchExact:
		re = "^" + q + "$"
	case policy.MatchPrefix:
		re = "^" + q
	case policy.MatchSuffix:
		re = q + "$"
	case policy.MatchPresence:
		re = "."
	default:
		return false
	}
	return regexp.MustCompile(flags + re).MatchString(v)
}
