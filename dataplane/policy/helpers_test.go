package policy_test

import (
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// Shorthands for the tables. Policies get names p0, p1, ... in the order given.

var (
	srcIP = netip.MustParseAddr("10.0.0.1")
	dstIP = netip.MustParseAddr("10.0.1.1")
)

func ident(ns, sa string) *policy.Identity { return policy.NewIdentity("cluster.local", ns, sa) }

func mtls(ns, sa string, port uint16) *policy.Attributes {
	return &policy.Attributes{SourceIP: srcIP, Source: ident(ns, sa), DestinationIP: dstIP, DestinationPort: port}
}

func plain(port uint16) *policy.Attributes {
	return &policy.Attributes{SourceIP: srcIP, DestinationIP: dstIP, DestinationPort: port}
}

func from(ip string, a *policy.Attributes) *policy.Attributes {
	c := *a
	c.SourceIP = netip.MustParseAddr(ip)
	return &c
}

func withReq(r policy.Request, a *policy.Attributes) *policy.Attributes {
	c := *a
	c.Request = &r
	return &c
}

// pol is a policy with one rule of one clause whose matches are ORed.
func pol(action policy.Action, ms ...policy.Match) *policy.Policy {
	return &policy.Policy{Name: "p", Namespace: "ns", Scope: policy.ScopeNamespace, Action: action,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: ms}}}}}
}

// rules is a policy with the given rules.
func rules(action policy.Action, rs ...policy.Rule) *policy.Policy {
	return &policy.Policy{Name: "p", Namespace: "ns", Scope: policy.ScopeNamespace, Action: action, Rules: rs}
}

// rule ANDs clauses, each clause ORing its matches.
func rule(clauses ...[]policy.Match) policy.Rule {
	r := policy.Rule{}
	for _, c := range clauses {
		r.Clauses = append(r.Clauses, policy.Clause{Matches: c})
	}
	return r
}

func named(ps ...*policy.Policy) []*policy.Policy {
	for i, p := range ps {
		if p != nil {
			p.Name = "p" + string(rune('0'+i))
		}
	}
	return ps
}

func dry(p *policy.Policy) *policy.Policy { p.DryRun = true; return p }

func cidrs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func sm(ms ...policy.StringMatch) []policy.StringMatch { return ms }

func patterns(ps ...string) []policy.StringMatch {
	out := make([]policy.StringMatch, len(ps))
	for i, p := range ps {
		out[i] = policy.StringMatchFromPattern(p)
	}
	return out
}
