package policy

import (
	"net/netip"
	"strings"
)

// Policy is one authorization policy as a data plane enforces it. Its shape follows
// the workload API (`security.Authorization`) and ztunnel `rbac.rs`
// (rules: Vec<Vec<Vec<RbacMatch>>>), widened with L7 fields for the waypoint.
type Policy struct {
	Name      string
	Namespace string
	Scope     Scope
	Action    Action
	// Rules are ORed. An empty Rules never matches, so an ALLOW policy with an empty
	// spec denies everything (ztunnel `rbac.rs` "empty rules").
	Rules []Rule
	// DryRun policies are evaluated and reported but never decide.
	DryRun bool

	key string // "<ns>/<name>", cached by Key's callers via CacheKey
}

// Key is "<namespace>/<name>", the form ztunnel logs and workloads reference.
// It does not allocate once CacheKey has run (NewSnapshot does this).
func (p *Policy) Key() string {
	if len(p.key) == len(p.Namespace)+1+len(p.Name) &&
		strings.HasPrefix(p.key, p.Namespace) && strings.HasSuffix(p.key, p.Name) &&
		p.key[len(p.Namespace)] == '/' {
		return p.key
	}
	return p.Namespace + "/" + p.Name
}

// CacheKey precomputes Key so the evaluation hot path stays allocation-free.
func (p *Policy) CacheKey() { p.key = p.Namespace + "/" + p.Name }

// Rule is one Istio rule (from/to/when): all Clauses must match (ANDed). A Rule
// with no Clauses matches everything (Istio `rules: [{}]` is allow-all).
type Rule struct {
	Clauses []Clause
}

// Clause is one of from/to/when: any of its Matches suffices (ORed). A Clause with
// no Matches matches (ztunnel treats an empty clause as true).
type Clause struct {
	Matches []Match
}

// Match is one source/operation/condition: every non-empty field must hold (ANDed);
// within a field any value suffices (ORed); a `Not` list holds when no value
// matches. A Match with no fields at all never matches (ztunnel skips it).
//
// L4 fields are what ztunnel sees; L7 fields need a parsed request (Attributes.
// Request). Adding an L7 matcher means adding a field here and a line in
// matchL7 — the evaluator's shape does not change.
type Match struct {
	// L4: identity of the peer (from the mTLS certificate; plaintext has none).
	Namespaces, NotNamespaces           []StringMatch
	ServiceAccounts, NotServiceAccounts []ServiceAccountMatch
	// Principals compare against "<td>/ns/<ns>/sa/<sa>" (spiffe:// stripped).
	Principals, NotPrincipals []StringMatch
	// L4: addresses of the connection.
	SourceIPs, NotSourceIPs               []netip.Prefix
	DestinationIPs, NotDestinationIPs     []netip.Prefix
	DestinationPorts, NotDestinationPorts []uint16

	// L7: only a waypoint or sidecar with a parsed request can evaluate these.
	Hosts, NotHosts                         []StringMatch // case-insensitive
	Methods, NotMethods                     []string      // exact, case-sensitive (W3)
	Paths, NotPaths                         []StringMatch
	RequestPrincipals, NotRequestPrincipals []StringMatch // "<iss>/<sub>"
	RemoteIPs, NotRemoteIPs                 []netip.Prefix
	Headers                                 []HeaderMatch // each one must hold
}

// StringMatch is a literal comparison; see MatchKind.
type StringMatch struct {
	Kind  MatchKind
	Value string
}

// Exact, Prefix, Suffix and Presence build StringMatches.
func Exact(v string) StringMatch  { return StringMatch{Kind: MatchExact, Value: v} }
func Prefix(v string) StringMatch { return StringMatch{Kind: MatchPrefix, Value: v} }
func Suffix(v string) StringMatch { return StringMatch{Kind: MatchSuffix, Value: v} }
func Presence() StringMatch       { return StringMatch{Kind: MatchPresence} }

// StringMatchFromPattern converts an Istio value ("*", "*suffix", "prefix*",
// "exact") the way istiod does (`authorization.go` stringToMatch).
func StringMatchFromPattern(v string) StringMatch {
	switch {
	case v == "*":
		return Presence()
	case strings.HasPrefix(v, "*"):
		return Suffix(v[1:])
	case strings.HasSuffix(v, "*"):
		return Prefix(v[:len(v)-1])
	default:
		return Exact(v)
	}
}

// Matches compares s literally (ztunnel `rbac.rs` StringMatch::matches).
func (m StringMatch) Matches(s string) bool {
	switch m.Kind {
	case MatchExact:
		return s == m.Value
	case MatchPrefix:
		return strings.HasPrefix(s, m.Value)
	case MatchSuffix:
		return strings.HasSuffix(s, m.Value)
	case MatchPresence:
		return s != ""
	}
	return false // an invalid kind matches nothing
}

// matchesFold is Matches ignoring ASCII case (hosts; CVE-2021-39155, W4).
func (m StringMatch) matchesFold(s string) bool {
	switch m.Kind {
	case MatchExact:
		return strings.EqualFold(s, m.Value)
	case MatchPrefix:
		return len(s) >= len(m.Value) && strings.EqualFold(s[:len(m.Value)], m.Value)
	case MatchSuffix:
		return len(s) >= len(m.Value) && strings.EqualFold(s[len(s)-len(m.Value):], m.Value)
	case MatchPresence:
		return s != ""
	}
	return false
}

// ServiceAccountMatch is an exact namespace + service account pair (istiod fills
// the namespace from the policy when `serviceAccounts` omits it).
type ServiceAccountMatch struct {
	Namespace      string
	ServiceAccount string
}

// HeaderMatch holds when any value of the header Name (case-insensitive) matches
// Values (if given) and none matches NotValues. Each value of a repeated header is
// matched on its own, never a comma-joined string (CVE-2026-26308, W5).
type HeaderMatch struct {
	Name              string
	Values, NotValues []StringMatch
}

func (m *Match) empty() bool {
	return len(m.Namespaces) == 0 && len(m.NotNamespaces) == 0 &&
		len(m.ServiceAccounts) == 0 && len(m.NotServiceAccounts) == 0 &&
		len(m.Principals) == 0 && len(m.NotPrincipals) == 0 &&
		len(m.SourceIPs) == 0 && len(m.NotSourceIPs) == 0 &&
		len(m.DestinationIPs) == 0 && len(m.NotDestinationIPs) == 0 &&
		len(m.DestinationPorts) == 0 && len(m.NotDestinationPorts) == 0 &&
		!m.hasL7()
}

// hasL7 reports whether any field needs a parsed request.
func (m *Match) hasL7() bool {
	return len(m.Hosts) != 0 || len(m.NotHosts) != 0 ||
		len(m.Methods) != 0 || len(m.NotMethods) != 0 ||
		len(m.Paths) != 0 || len(m.NotPaths) != 0 ||
		len(m.RequestPrincipals) != 0 || len(m.NotRequestPrincipals) != 0 ||
		len(m.RemoteIPs) != 0 || len(m.NotRemoteIPs) != 0 ||
		len(m.Headers) != 0
}
