package route

import (
	"net/http"
	"strings"
	"testing"
)

func mustValidate(t *testing.T, tb *Table) *Table {
	t.Helper()
	if err := tb.Validate("test"); err != nil {
		t.Fatal(err)
	}
	return tb
}

func hr(name string, m Match) HTTPRoute {
	return HTTPRoute{Name: name, Source: SourceHTTPRoute, Match: m}
}

func TestMatching(t *testing.T) {
	tb := mustValidate(t, &Table{HTTP: []HTTPRoute{
		hr("exact", Match{Path: &PathMatch{Type: PathExact, Value: "/exact"}}),
		hr("seg", Match{Path: &PathMatch{Type: PathPrefix, Value: "/api/"}}),
		hr("str", Match{Path: &PathMatch{Type: PathStringPrefix, Value: "/str"}}),
		hr("re", Match{Path: &PathMatch{Type: PathRegex, Value: `/v[0-9]+/items`}}),
		hr("hdr-re", Match{Headers: []HeaderMatch{{Name: "x-user", Type: StringRegex, Value: "a.*"}}}),
		hr("hdr-inv", Match{Headers: []HeaderMatch{{Name: "x-env", Type: StringExact, Value: "prod", Invert: true}}, Method: "PUT"}),
		hr("query", Match{Query: []QueryMatch{{Name: "q", Type: StringExact, Value: "1"}}}),
		hr("query-re", Match{Query: []QueryMatch{{Name: "id", Type: StringRegex, Value: "[0-9]+"}}}),
		hr("method", Match{Method: "DELETE"}),
		{Name: "port", Source: SourceVirtualService, Port: 8080},
	}})
	cases := []struct {
		name, method, path, query string
		port                      uint16
		hdr                       http.Header
		want                      string
	}{
		{"exact", "GET", "/exact", "", 80, nil, "exact"},
		{"exact is not a prefix", "GET", "/exact/x", "", 80, nil, ""},
		{"segment prefix equal", "GET", "/api", "", 80, nil, "seg"},
		{"segment prefix child", "GET", "/api/x", "", 80, nil, "seg"},
		{"segment prefix not a segment", "GET", "/apix", "", 80, nil, ""},
		{"string prefix not segmented", "GET", "/strong", "", 80, nil, "str"},
		{"regex full match", "GET", "/v12/items", "", 80, nil, "re"},
		{"regex anchored", "GET", "/v12/items/x", "", 80, nil, ""},
		{"header regex full", "GET", "/", "", 80, http.Header{"X-User": {"alice"}}, "hdr-re"},
		{"header regex anchored", "GET", "/", "", 80, http.Header{"X-User": {"bob-a"}}, ""},
		{"multi-valued header joined", "GET", "/", "", 80, http.Header{"X-User": {"b", "a"}}, ""},
		{"inverted absent", "PUT", "/", "", 80, nil, "hdr-inv"},
		{"inverted present other", "PUT", "/", "", 80, http.Header{"X-Env": {"dev"}}, "hdr-inv"},
		{"inverted present equal", "PUT", "/", "", 80, http.Header{"X-Env": {"prod"}}, ""},
		{"query exact", "GET", "/", "a=2&q=1", 80, nil, "query"},
		{"query first value only", "GET", "/", "q=2&q=1", 80, nil, ""},
		{"query escaped", "GET", "/", "q=%31", 80, nil, "query"},
		{"query regex", "GET", "/", "id=42", 80, nil, "query-re"},
		{"query regex anchored", "GET", "/", "id=42x", 80, nil, ""},
		{"method", "DELETE", "/", "", 80, nil, "method"},
		{"method case-sensitive", "delete", "/", "", 80, nil, ""},
		{"port", "GET", "/", "", 8080, nil, "port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.hdr
			if h == nil {
				h = http.Header{}
			}
			got := tb.Select(&Request{Port: c.port, Method: c.method, Path: c.path, Query: c.query, Header: h})
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != c.want {
				t.Fatalf("got %q, want %q", name, c.want)
			}
		})
	}
	var nilTable *Table
	if nilTable.Select(&Request{Path: "/"}) != nil {
		t.Fatal("nil table selected a route")
	}
}

func TestSegmentPrefixMatch(t *testing.T) {
	for _, c := range []struct {
		prefix, path string
		want         bool
	}{
		{"/", "/", true}, {"/", "/anything", true}, {"/abc", "/abc", true}, {"/abc", "/abc/", true},
		{"/abc", "/abc/def", true}, {"/abc", "/abcd", false}, {"/abc/", "/abc", true}, {"/abc/", "/abcd", false},
		{"/abc/def", "/abc", false}, {"/abc//", "/abc/", true},
	} {
		if got := SegmentPrefixMatch(c.prefix, c.path); got != c.want {
			t.Errorf("SegmentPrefixMatch(%q, %q) = %v", c.prefix, c.path, got)
		}
	}
}

// Gateway API precedence (HTTPRouteRule.Matches): exact > longest prefix >
// method > most headers > most query params > oldest route > name > rule.
func TestSortByPrecedence(t *testing.T) {
	p := func(typ PathMatchType, v string) *PathMatch { return &PathMatch{Type: typ, Value: v} }
	routes := []HTTPRoute{
		hr("root", Match{}),
		hr("query1", Match{Path: p(PathPrefix, "/a"), Query: []QueryMatch{{Name: "x"}}}),
		hr("hdr1", Match{Path: p(PathPrefix, "/a"), Headers: []HeaderMatch{{Name: "x"}}}),
		hr("hdr2", Match{Path: p(PathPrefix, "/a"), Headers: []HeaderMatch{{Name: "x"}, {Name: "y"}}}),
		hr("method", Match{Path: p(PathPrefix, "/a"), Method: "GET"}),
		hr("long-prefix", Match{Path: p(PathPrefix, "/a/b/")}),
		hr("regex", Match{Path: p(PathRegex, "/a/.*")}),
		hr("exact", Match{Path: p(PathExact, "/a")}),
		hr("young", Match{Path: p(PathPrefix, "/z")}),
		hr("old-b", Match{Path: p(PathPrefix, "/y")}),
		hr("old-a", Match{Path: p(PathPrefix, "/x")}),
	}
	prec := make([]Precedence, len(routes))
	for i := range prec {
		prec[i] = Precedence{Created: 0, Key: "ns/r", Rule: i}
	}
	prec[8] = Precedence{Created: 2, Key: "ns/a"}
	prec[9] = Precedence{Created: 1, Key: "ns/b"}
	prec[10] = Precedence{Created: 1, Key: "ns/a"}
	SortByPrecedence(routes, prec)
	want := []string{"exact", "long-prefix", "method", "hdr2", "hdr1", "query1", "old-a", "old-b", "young", "root", "regex"}
	for i, r := range routes {
		if r.Name != want[i] {
			var got []string
			for _, r := range routes {
				got = append(got, r.Name)
			}
			t.Fatalf("order %v, want %v", got, want)
		}
		if prec[i].Key == "" {
			t.Fatal("precedence slice not permuted with routes")
		}
	}
}

func TestValidateRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		r    HTTPRoute
	}{
		{"no name", HTTPRoute{Source: SourceHTTPRoute}},
		{"bad source", HTTPRoute{Name: "x", Source: "Ingress"}},
		{"bad regex", hr("x", Match{Path: &PathMatch{Type: PathRegex, Value: "("}})},
		{"relative path", hr("x", Match{Path: &PathMatch{Type: PathExact, Value: "a"}})},
		{"bad header regex", hr("x", Match{Headers: []HeaderMatch{{Name: "a", Type: StringRegex, Value: "[["}}})},
		{"bad header name", hr("x", Match{Headers: []HeaderMatch{{Name: "a b", Type: StringExact}}})},
		{"host modifier", HTTPRoute{Name: "x", Source: SourceHTTPRoute, RequestHeaders: &HeaderModifier{Set: []Header{{"Host", "h"}}}}},
		{"CRLF value", HTTPRoute{Name: "x", Source: SourceHTTPRoute, RequestHeaders: &HeaderModifier{Add: []Header{{"a", "b\r\nc: d"}}}}},
		{"redirect code", HTTPRoute{Name: "x", Source: SourceHTTPRoute, Redirect: &Redirect{StatusCode: 200}}},
		{"retry condition", HTTPRoute{Name: "x", Source: SourceHTTPRoute, Retry: &Retry{Attempts: 1, On: []RetryOn{"sometimes"}}}},
		{"fault percent", HTTPRoute{Name: "x", Source: SourceHTTPRoute, Fault: &Fault{Abort: &FaultAbort{HTTPStatus: 503, Percent: 101}}}},
		{"fault both", HTTPRoute{Name: "x", Source: SourceHTTPRoute, Fault: &Fault{Abort: &FaultAbort{HTTPStatus: 503, GRPCStatus: "UNAVAILABLE"}}}},
		{"backend without service", HTTPRoute{Name: "x", Source: SourceHTTPRoute, Backends: []Backend{{Weight: 1}}}},
		{"rewrite with query", HTTPRoute{Name: "x", Source: SourceHTTPRoute, Rewrite: &Rewrite{Path: &PathModifier{Type: ReplaceFullPath, Value: "/a?b"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := (&Table{HTTP: []HTTPRoute{c.r}}).Validate("services[0] apps/x")
			if err == nil {
				t.Fatal("accepted")
			}
			if c.r.Name != "" && !contains(err.Error(), "services[0] apps/x: routing.http[0] x") {
				t.Fatalf("error does not name the route: %v", err)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// An expression that is only valid once wrapped must be rejected, not
// reinterpreted ("0)(" would become ^(?:0)()$).
func TestRegexCannotEscapeAnchors(t *testing.T) {
	for _, expr := range []string{"0)(", "a)|(b", ")("} {
		tb := &Table{HTTP: []HTTPRoute{hr("r", Match{Path: &PathMatch{Type: PathRegex, Value: expr}})}}
		if err := tb.Validate("t"); err == nil {
			t.Errorf("%q accepted", expr)
		}
	}
}
