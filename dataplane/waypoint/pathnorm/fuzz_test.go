package pathnorm

import (
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// FuzzNormalizePath checks the two properties reliability G1 asks for:
//   - idempotence: a normalized target normalizes to itself, in every mode;
//   - a path that matches a DENY stays denied under any re-encoding the mode
//     claims to fold: re-encode the normalized path (doubled slashes where
//     slashes merge, "x/../" and "./" insertions, percent-encoded unreserved
//     bytes, lower-case escapes, backslashes, and %2F/%5C where those decode),
//     and the result must normalize back to the same path, so an exact DENY on
//     it still fires.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/admin", "/a/../admin", "/%61dmin/x", "//admin//", `/a\b`, "/a%2Fb?q=1",
		"/a/./b/../c", "/%252F", "/x;y=z/", "/admin/", "/a%5c"} {
		f.Add(s, uint8(3), []byte{1, 2, 3, 4, 5, 6, 7})
	}
	f.Fuzz(func(t *testing.T, raw string, modeByte uint8, ops []byte) {
		mode := Mode(modeByte%4) + ModeNone
		n, err := Normalize(raw, mode)
		if err != nil {
			return
		}
		again, err := Normalize(n, mode)
		if err != nil || again != n {
			t.Fatalf("not idempotent under %v: %q → %q → %q (%v)", mode, raw, n, again, err)
		}
		if mode == ModeNone {
			return // NONE folds nothing by definition
		}
		path, _ := SplitQuery(n)
		enc := reencode(path, mode, ops)
		got, err := Normalize(enc, mode)
		if err != nil {
			t.Fatalf("re-encoding %q of %q rejected under %v: %v", enc, path, mode, err)
		}
		deny := &policy.Policy{Name: "deny", Namespace: "ns", Scope: policy.ScopeNamespace, Action: policy.ActionDeny,
			Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{Paths: []policy.StringMatch{policy.Exact(path)}}}}}}}}
		attrs := &policy.Attributes{Request: &policy.Request{Path: got}}
		if policy.Evaluate([]*policy.Policy{deny}, attrs).Allowed {
			t.Fatalf("DENY on %q bypassed under %v by %q (normalized %q)", path, mode, enc, got)
		}
	})
}

// reencode applies, in a safe order, transformations that the mode folds back.
func reencode(p string, mode Mode, ops []byte) string {
	next := func(i int) byte {
		if len(ops) == 0 {
			return 0
		}
		return ops[i%len(ops)]
	}
	// 1. Doubled slashes (merge modes only).
	if mode >= ModeMergeSlashes {
		p = rewriteSlashes(p, func(i int) string {
			if next(i)%3 == 0 {
				return "//"
			}
			return "/"
		})
	}
	// 2. Dot-segment insertions right after a slash: "x/../" pushes and pops x.
	p = rewriteSlashes(p, func(i int) string {
		switch next(i+1) % 4 {
		case 0:
			return "/x/../"
		case 1:
			return "/./"
		}
		return "/"
	})
	// 3. Byte-level encodings.
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c, op := p[i], next(i+2)%5
		switch {
		case c == '%' && op == 0:
			b.WriteString(strings.ToLower(p[i : i+3]))
			i += 2
		case c == '%':
			b.WriteString(p[i : i+3])
			i += 2
		case i > 0 && c == '/' && op == 1:
			b.WriteByte('\\')
		case i > 0 && c == '/' && op == 2 && mode == ModeDecodeAndMergeSlashes:
			b.WriteString("%2f")
		case i > 0 && c == '/' && op == 3 && mode == ModeDecodeAndMergeSlashes:
			b.WriteString("%5C")
		case c != '/' && isUnreserved(c) && op == 4:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rewriteSlashes replaces every "/" after the first byte with repl(i).
func rewriteSlashes(p string, repl func(i int) string) string {
	var b strings.Builder
	b.WriteByte(p[0])
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			b.WriteString(repl(i))
		} else {
			b.WriteByte(p[i])
		}
	}
	return b.String()
}
