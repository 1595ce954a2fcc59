package route

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// FuzzRegexMatch: any expression either fails Validate or matches without
// panicking, and a match is always a full match (anchoring holds).
func FuzzRegexMatch(f *testing.F) {
	f.Add(`/v[0-9]+`, "/v12")
	f.Add(`a|b`, "ab")
	f.Add(`(`, "x")
	f.Add(`.*`, "")
	f.Fuzz(func(t *testing.T, expr, s string) {
		tb := &Table{HTTP: []HTTPRoute{{Name: "r", Source: SourceVirtualService,
			Match: Match{Path: &PathMatch{Type: PathRegex, Value: expr},
				Headers: []HeaderMatch{{Name: "x", Type: StringRegex, Value: expr}}}}}}
		if err := tb.Validate("fuzz"); err != nil {
			return
		}
		p := tb.HTTP[0].Match.Path
		full := p.Matches(s)
		if full && expr == "a|b" && s == "ab" {
			t.Fatal("alternation escaped its anchors")
		}
		// A full match is also a match somewhere in s, and header matching
		// of the same expression agrees with path matching.
		if full && regexp.MustCompile(expr).FindStringIndex(s) == nil {
			t.Fatalf("%q fully matches %q but matches nowhere in it", expr, s)
		}
		hdr := http.Header{"X": {s}}
		if strings.Contains(s, ",") || s == "" {
			return // header values are joined/absent; not comparable
		}
		if got := tb.HTTP[0].Match.Headers[0].matches(hdr); got != full {
			t.Fatalf("header match %v, path match %v for %q on %q", got, full, expr, s)
		}
	})
}

// FuzzRewritePath: a rewrite of an absolute path is absolute, and a
// ReplacePrefixMatch keeps everything after the matched prefix.
func FuzzRewritePath(f *testing.F) {
	f.Add("/foo", "/xyz", "/foo/bar")
	f.Add("/", "/", "/")
	f.Add("/a/", "", "/a")
	f.Fuzz(func(t *testing.T, prefix, repl, path string) {
		if !strings.HasPrefix(prefix, "/") || !strings.HasPrefix(path, "/") || !strings.HasPrefix(repl, "/") {
			return
		}
		m := &PathMatch{Type: PathPrefix, Value: prefix}
		got := RewritePath(&PathModifier{Type: ReplacePrefixMatch, Value: repl}, m, path)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("RewritePath(%q, %q, %q) = %q: not absolute", prefix, repl, path, got)
		}
		if m.Matches(path) {
			rest := path[len(strings.TrimSuffix(prefix, "/")):]
			if prefix == "/" {
				rest = path[1:]
				if !strings.HasSuffix(got, rest) {
					t.Fatalf("RewritePath(%q, %q, %q) = %q lost %q", prefix, repl, path, got, rest)
				}
				return
			}
			if !strings.HasSuffix(got, rest) {
				t.Fatalf("RewritePath(%q, %q, %q) = %q lost %q", prefix, repl, path, got, rest)
			}
		} else if got != path {
			t.Fatalf("unmatched path rewritten: %q → %q", path, got)
		}
	})
}
