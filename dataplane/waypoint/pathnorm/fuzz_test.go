package pathnorm

import (
	"strings"
	"testing"
)

// FuzzNormalizePath checks the properties reliability G1 asks for, in every
// mode:
//   - idempotence: a normalized target normalizes to itself;
//   - output hygiene: normalized paths start with "/", keep no dot segment
//     (except NONE), no backslash, no lower-case or unreserved escapes, and no
//     "//" where slashes merge;
//   - DENY stability for a prefix rule: take any prefix of the normalized path
//     that ends at a segment boundary as a DENY `paths: ["<prefix>*"]`, re-encode
//     the path with every trick the mode claims to fold (doubled slashes,
//     "x/../" and "./" insertions, unreserved escapes, lower/upper-case hex,
//     backslashes, %2F/%5C where those decode): the result is rejected or still
//     denied. Under DECODE_AND_MERGE_SLASHES — the mode Istio recommends for
//     DENY policies — every trick applies.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/admin", "/a/../admin", "/%61dmin/x", "//admin//", `/a\b`, "/a%2Fb?q=1",
		"/a/./b/../c", "/%252F", "/x;y=z/", "/admin/", "/a%5c", "/admin/x/.", "/%2F/admin", "/priv%61te"} {
		f.Add(s, uint8(3), []byte{1, 2, 3, 4, 5, 6, 7}, uint8(1))
	}
	f.Fuzz(func(t *testing.T, raw string, modeByte uint8, ops []byte, cut uint8) {
		mode := Mode(modeByte%4) + ModeNone
		n, err := Normalize(raw, mode)
		if err != nil {
			return
		}
		again, err := Normalize(n, mode)
		if err != nil || again != n {
			t.Fatalf("not idempotent under %v: %q → %q → %q (%v)", mode, raw, n, again, err)
		}
		path, _ := SplitQuery(n)
		checkHygiene(t, raw, path, mode)
		if mode == ModeNone {
			return // NONE folds nothing by definition
		}
		prefix := denyPrefix(path, cut)
		enc := reencode(path, mode, ops)
		got, err := Normalize(enc, mode)
		if err != nil {
			// Every re-encoding is valid syntax the mode folds: refusing it
			// would be a false deny.
			t.Fatalf("re-encoding %q of %q rejected under %v: %v", enc, path, mode, err)
		}
		gotPath, _ := SplitQuery(got)
		if !strings.HasPrefix(gotPath, prefix) {
			t.Fatalf("DENY prefix %q on %q bypassed under %v by %q (normalized %q)", prefix, path, mode, enc, gotPath)
		}
		if gotPath != path {
			t.Fatalf("re-encoding %q of %q normalized to %q under %v", enc, path, gotPath, mode)
		}
	})
}

func checkHygiene(t *testing.T, raw, path string, mode Mode) {
	t.Helper()
	if path == "" || path[0] != '/' {
		t.Fatalf("%q normalized to %q under %v: not origin-form", raw, path, mode)
	}
	if mode == ModeNone {
		return
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("%q normalized to %q under %v: dot segment left", raw, path, mode)
		}
	}
	if strings.IndexByte(path, '\\') >= 0 {
		t.Fatalf("%q normalized to %q under %v: backslash left", raw, path, mode)
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		v := unhex(path[i+1])<<4 | unhex(path[i+2])
		if isUnreserved(v) || path[i+1] >= 'a' || path[i+2] >= 'a' {
			t.Fatalf("%q normalized to %q under %v: escape %q not canonical", raw, path, mode, path[i:i+3])
		}
		if mode == ModeDecodeAndMergeSlashes && (v == '/' || v == '\\') {
			t.Fatalf("%q normalized to %q under %v: escaped slash left", raw, path, mode)
		}
	}
	if mode >= ModeMergeSlashes && strings.Contains(path, "//") {
		t.Fatalf("%q normalized to %q under %v: slashes not merged", raw, path, mode)
	}
}

// denyPrefix is a prefix of path ending just after one of its slashes (an
// Istio "<prefix>*" path rule), chosen by cut; the whole path if cut is 0.
func denyPrefix(path string, cut uint8) string {
	var bounds []int
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			bounds = append(bounds, i+1)
		}
	}
	if cut == 0 || len(bounds) == 0 {
		return path
	}
	return path[:bounds[int(cut)%len(bounds)]]
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
		c, op := p[i], next(i+2)%6
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
		case c != '/' && isUnreserved(c) && op == 5:
			b.WriteByte('%')
			b.WriteString(strings.ToLower(string([]byte{upperHex[c>>4], upperHex[c&0xf]})))
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
