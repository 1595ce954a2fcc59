package route

import (
	"cmp"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Request is what routing reads of a request: the normalized path (no
// query), the raw query, the method and the outbound headers.
type Request struct {
	// Port is the Service port the request was sent to.
	Port   uint16
	Method string
	Path   string
	Query  string
	Header http.Header
}

// Select returns the first route whose match matches, or nil. The table
// must have passed Validate (regexes are compiled there).
func (t *Table) Select(r *Request) *HTTPRoute {
	if t == nil {
		return nil
	}
	var query url.Values
	for i := range t.HTTP {
		rt := &t.HTTP[i]
		if rt.Port != 0 && rt.Port != r.Port {
			continue
		}
		if len(rt.Match.Query) > 0 && query == nil {
			query = parseQuery(r.Query)
		}
		if rt.Match.matches(r, query) {
			return rt
		}
	}
	return nil
}

// parseQuery keeps every parameter that parses; a malformed pair does not
// hide the others (Envoy parses the query leniently as well).
func parseQuery(raw string) url.Values {
	v := url.Values{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			continue
		}
		v[k] = append(v[k], val)
	}
	return v
}

func (m *Match) matches(r *Request, query url.Values) bool {
	if m.Method != "" && m.Method != r.Method {
		return false
	}
	if m.Path != nil && !m.Path.Matches(r.Path) {
		return false
	}
	for i := range m.Headers {
		if !m.Headers[i].matches(r.Header) {
			return false
		}
	}
	for i := range m.Query {
		q := &m.Query[i]
		vals, ok := query[q.Name]
		if !ok || !matchString(q.Type, q.Value, q.re, vals[0]) {
			return false
		}
	}
	return true
}

// Matches reports whether path matches.
func (p *PathMatch) Matches(path string) bool {
	switch p.Type {
	case PathExact:
		return path == p.Value
	case PathPrefix:
		return SegmentPrefixMatch(p.Value, path)
	case PathStringPrefix:
		return strings.HasPrefix(path, p.Value)
	case PathRegex:
		return fullMatch(p.re, p.Value, path)
	}
	return false
}

// SegmentPrefixMatch is Gateway API PathPrefix (Envoy path_separated_prefix):
// prefix matches whole path segments and a trailing "/" on it is ignored.
func SegmentPrefixMatch(prefix, path string) bool {
	if prefix == "/" || prefix == "" {
		return strings.HasPrefix(path, "/")
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	rest := path[len(prefix):]
	return rest == "" || rest[0] == '/'
}

func (h *HeaderMatch) matches(hdr http.Header) bool {
	vals := hdr.Values(h.Name)
	ok := len(vals) > 0 && matchString(h.Type, h.Value, h.re, strings.Join(vals, ","))
	return ok != h.Invert
}

func matchString(t StringMatchType, want string, re *regexp.Regexp, got string) bool {
	switch t {
	case StringExact:
		return got == want
	case StringPrefix:
		return strings.HasPrefix(got, want)
	case StringRegex:
		return fullMatch(re, want, got)
	}
	return false
}

// fullMatch anchors the expression: Envoy's safe_regex matches the whole
// value, so "v1" must not match "v10".
func fullMatch(re *regexp.Regexp, expr, s string) bool {
	if re == nil {
		var err error
		if re, err = compileFull(expr); err != nil {
			return false
		}
	}
	return re.MatchString(s)
}

// compileFull compiles an RE2 expression anchored at both ends. The
// expression is first compiled on its own: wrapped unchecked, "0)(" would
// close the group early and compile as something else (found by
// FuzzRegexMatch).
func compileFull(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// Precedence carries what orders routes built from HTTPRoutes: the route's
// creation order (index of the HTTPRoute in creation order, then its
// "<ns>/<name>") and the rule and match positions inside it.
type Precedence struct {
	// Created orders routes by creation; lower is older.
	Created int
	// Key is "<ns>/<name>" of the HTTPRoute, the tie-break after age.
	Key string
	// Rule and Match are positions within the HTTPRoute.
	Rule, Match int
}

// SortByPrecedence orders routes by the Gateway API rules (HTTPRouteRule
// Matches doc): Exact path, then PathPrefix with the most characters, then
// (implementation-specific, Istio's order) regular expressions by length,
// then routes with a method, the most header matches, the most query
// matches; ties go to the oldest route, then "<ns>/<name>", then rule and
// match order. prec[i] belongs to routes[i]; both are permuted together.
func SortByPrecedence(routes []HTTPRoute, prec []Precedence) {
	idx := make([]int, len(routes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := compareMatch(&routes[a].Match, &routes[b].Match); c != 0 {
			return c
		}
		pa, pb := prec[a], prec[b]
		return cmp.Or(cmp.Compare(pa.Created, pb.Created), strings.Compare(pa.Key, pb.Key),
			cmp.Compare(pa.Rule, pb.Rule), cmp.Compare(pa.Match, pb.Match))
	})
	r2, p2 := make([]HTTPRoute, len(routes)), make([]Precedence, len(prec))
	for i, j := range idx {
		r2[i], p2[i] = routes[j], prec[j]
	}
	copy(routes, r2)
	copy(prec, p2)
}

// compareMatch is negative when a takes precedence over b.
func compareMatch(a, b *Match) int {
	ra, rb := pathRank(a.Path), pathRank(b.Path)
	if ra != rb {
		return rb - ra
	}
	if la, lb := pathLen(a.Path), pathLen(b.Path); la != lb {
		return lb - la
	}
	if (a.Method != "") != (b.Method != "") {
		if a.Method != "" {
			return -1
		}
		return 1
	}
	if len(a.Headers) != len(b.Headers) {
		return len(b.Headers) - len(a.Headers)
	}
	return len(b.Query) - len(a.Query)
}

func pathRank(p *PathMatch) int {
	if p == nil {
		return 2 // no path match is PathPrefix "/" (the Gateway API default)
	}
	switch p.Type {
	case PathExact:
		return 3
	case PathPrefix, PathStringPrefix:
		return 2
	case PathRegex:
		return 1
	}
	return 0
}

func pathLen(p *PathMatch) int {
	if p == nil {
		return 1
	}
	if p.Type == PathPrefix && p.Value != "/" {
		return len(strings.TrimSuffix(p.Value, "/"))
	}
	return len(p.Value)
}
