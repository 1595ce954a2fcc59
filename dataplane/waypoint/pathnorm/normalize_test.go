package pathnorm

import (
	"errors"
	"testing"
)

// The expectations follow the table in istio.io "Security best practices" ›
// "Understand path normalization in authorization policy" and Envoy's
// normalize_path / merge_slashes / UNESCAPE_AND_FORWARD documentation.
func TestNormalize(t *testing.T) {
	type want struct{ none, base, merge, decode string }
	same := func(s string) want { return want{s, s, s, s} }
	cases := []struct {
		in   string
		want want
	}{
		{"/", same("/")},
		{"/a/b", same("/a/b")},
		{"/a/b?x=1&y=%2F..", same("/a/b?x=1&y=%2F..")},
		{"/a?", same("/a?")},
		{"/a/../b", want{"/a/../b", "/b", "/b", "/b"}},
		{"/a/./b", want{"/a/./b", "/a/b", "/a/b", "/a/b"}},
		{"/../../admin", want{"/../../admin", "/admin", "/admin", "/admin"}},
		{"/a/..", want{"/a/..", "/", "/", "/"}},
		{"/a/.", want{"/a/.", "/a/", "/a/", "/a/"}},
		{"/a/%2E%2E/b", want{"/a/%2E%2E/b", "/b", "/b", "/b"}},
		{"/a/%2e./b", want{"/a/%2e./b", "/b", "/b", "/b"}},
		{"/%61dmin", want{"/%61dmin", "/admin", "/admin", "/admin"}},
		{"/a%2Fb", want{"/a%2Fb", "/a%2Fb", "/a%2Fb", "/a/b"}},
		{"/a%2fb", want{"/a%2fb", "/a%2Fb", "/a%2Fb", "/a/b"}},
		{"/a%5Cb", want{"/a%5Cb", "/a%5Cb", "/a%5Cb", "/a/b"}},
		{"/a%5c..%5cadmin", want{"/a%5c..%5cadmin", "/a%5C..%5Cadmin", "/a%5C..%5Cadmin", "/admin"}},
		{"/a//b", want{"/a//b", "/a//b", "/a/b", "/a/b"}},
		{"//admin", want{"//admin", "//admin", "/admin", "/admin"}},
		{"/a%2F%2Fb", want{"/a%2F%2Fb", "/a%2F%2Fb", "/a%2F%2Fb", "/a/b"}},
		// Never double-decoded: %25 is not unreserved, so it stays encoded.
		{"/%252e%252e/admin", want{"/%252e%252e/admin", "/%252e%252e/admin", "/%252e%252e/admin", "/%252e%252e/admin"}},
		{"/%252F", same("/%252F")},
		{"/a;b=c/d", same("/a;b=c/d")},
		{"/a%20b", want{"/a%20b", "/a%20b", "/a%20b", "/a%20b"}},
		{"/a%c3%a9", want{"/a%c3%a9", "/a%C3%A9", "/a%C3%A9", "/a%C3%A9"}},
	}
	modes := []Mode{ModeNone, ModeBase, ModeMergeSlashes, ModeDecodeAndMergeSlashes}
	for _, c := range cases {
		wants := []string{c.want.none, c.want.base, c.want.merge, c.want.decode}
		for i, m := range modes {
			got, err := Normalize(c.in, m)
			if err != nil || got != wants[i] {
				t.Errorf("Normalize(%q, %v) = %q, %v; want %q", c.in, m, got, err, wants[i])
			}
		}
	}
}

func TestNormalizeBackslash(t *testing.T) {
	for m, want := range map[Mode]string{ModeBase: "/admin", ModeMergeSlashes: "/admin", ModeDecodeAndMergeSlashes: "/admin"} {
		if got, err := Normalize(`/a\..\admin`, m); err != nil || got != want {
			t.Errorf("%v: got %q, %v", m, got, err)
		}
	}
	if got, err := Normalize(`\\admin`, ModeBase); !errors.Is(err, ErrNotOriginForm) {
		t.Errorf("leading backslash: got %q, %v", got, err)
	}
	if _, err := Normalize(`/a\b`, ModeNone); !errors.Is(err, ErrBackslash) {
		t.Errorf("NONE with backslash: %v", err)
	}
}

func TestNormalizeRejects(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"", ErrNotOriginForm},
		{"admin", ErrNotOriginForm},
		{"*", ErrNotOriginForm},
		{"http://h/a", ErrNotOriginForm},
		{"/admin#x", ErrFragment},
		{"/ok?q#frag", ErrFragment},
		{"/admin%23x", nil}, // an encoded '#' is data, not a fragment
		{"/a%", ErrBadEscape},
		{"/a%4", ErrBadEscape},
		{"/a%zz", ErrBadEscape},
		{"/a%00b", ErrEncodedNUL},
		{"/a\x00b", ErrInvalidCharacter},
		{"/a b", ErrInvalidCharacter},
		{"/a\tb", ErrInvalidCharacter},
		{"/a\r\nb", ErrInvalidCharacter},
		{"/a\x7fb", ErrInvalidCharacter},
		{"/caf\xc3\xa9", ErrInvalidCharacter},
		{"/a|b", ErrInvalidCharacter},
		{"/a\"b", ErrInvalidCharacter},
		{"/a<b>", ErrInvalidCharacter},
		{"/a?b c", ErrInvalidCharacter},
		{"/a?b\x00", ErrInvalidCharacter},
	}
	for _, m := range Modes() {
		for _, c := range cases {
			_, err := Normalize(c.in, m)
			if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Errorf("Normalize(%q, %v) error = %v; want %v", c.in, m, err, c.want)
			}
		}
	}
	if _, err := Normalize("/", 0); !errors.Is(err, ErrInvalidMode) {
		t.Errorf("zero mode: %v", err)
	}
}

func TestSplitQuery(t *testing.T) {
	p, q := SplitQuery("/a/b?x=1?y")
	if p != "/a/b" || q != "x=1?y" {
		t.Errorf("got %q %q", p, q)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes() {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if m, err := ParseMode(""); err != nil || m != ModeBase {
		t.Errorf("default: %v %v", m, err)
	}
	if _, err := ParseMode("merge_slashes"); err == nil {
		t.Error("lower-case name accepted")
	}
	if Mode(0).Valid() || Mode(9).String() != "Mode(9)" {
		t.Error("invalid mode handling")
	}
}
