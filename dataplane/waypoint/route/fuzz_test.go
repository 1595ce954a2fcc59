package route

import (
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
		if p.Matches(s) && expr == "a|b" && s == "ab" {
			t.Fatal("alternation escaped its anchors")
		}
		_ = p.Matches(s)
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
