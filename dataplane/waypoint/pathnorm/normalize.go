package pathnorm

import (
	"errors"
	"strings"
)

// Errors Normalize returns; the waypoint answers every one of them with 400.
var (
	// ErrNotOriginForm: the target does not start with "/" (Envoy rejects
	// relative and asterisk-form paths on non-OPTIONS requests the same way).
	ErrNotOriginForm = errors.New("pathnorm: request target is not origin-form")
	// ErrFragment: "#" may not appear in a request target (RFC 9112 §3.2). Envoy
	// rejects it by default (http_reject_path_with_fragment), which is what the
	// CVE-2021-39156 fix (bulletin 2021-008, W2) turned into the safe default.
	ErrFragment = errors.New("pathnorm: fragment in request target")
	// ErrInvalidCharacter: a byte outside RFC 3986 pchar (path) or visible ASCII
	// (query): controls, space, DEL, raw non-ASCII, and characters such as `"`,
	// `<` or `|` that a forwarder would have to re-encode, changing the bytes
	// authorization saw.
	ErrInvalidCharacter = errors.New("pathnorm: invalid character in path")
	// ErrBadEscape: "%" not followed by two hex digits.
	ErrBadEscape = errors.New("pathnorm: malformed percent-encoding")
	// ErrEncodedNUL: "%00" is never a legitimate path byte (W8).
	ErrEncodedNUL = errors.New("pathnorm: encoded NUL in path")
	// ErrBackslash: under ModeNone a backslash would be forwarded verbatim, and
	// backends disagree on whether it is a separator; we refuse instead.
	ErrBackslash = errors.New("pathnorm: backslash in path under NONE normalization")
	// ErrInvalidMode: the mode is not one of the defined ones (fail closed).
	ErrInvalidMode = errors.New("pathnorm: invalid normalization mode")
)

// Normalize validates an origin-form request target ("/path?query") and returns
// the normalized target. The query is kept byte for byte; only the path is
// normalized. Each percent-escape is decoded at most once: the decoded output is
// never rescanned, so "%252F" stays "%252F" in every mode.
//
// Order, as Envoy applies it: decode escaped slashes (ModeDecodeAndMergeSlashes
// only), normalize_path (unreserved decoding, upper-case escapes, backslash →
// slash, dot segments), then merge_slashes.
func Normalize(raw string, mode Mode) (string, error) {
	if !mode.Valid() {
		return "", ErrInvalidMode
	}
	if raw == "" || raw[0] != '/' {
		return "", ErrNotOriginForm
	}
	path, query, hasQuery := strings.Cut(raw, "?")
	if err := checkQuery(query); err != nil {
		return "", err
	}
	if err := checkPath(path); err != nil {
		return "", err
	}
	if mode == ModeNone {
		if strings.IndexByte(path, '\\') >= 0 {
			return "", ErrBackslash
		}
		return raw, nil
	}
	path = decode(path, mode == ModeDecodeAndMergeSlashes)
	path = removeDotSegments(path)
	if mode >= ModeMergeSlashes {
		path = mergeSlashes(path)
	}
	if hasQuery {
		return path + "?" + query, nil
	}
	return path, nil
}

// SplitQuery splits a normalized target into the path that authorization
// matches (query ignored, as Istio's url_path matcher does) and the raw query.
func SplitQuery(target string) (path, query string) {
	path, query, _ = strings.Cut(target, "?")
	return path, query
}

func checkQuery(q string) error {
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '#' {
			return ErrFragment
		}
		if c <= ' ' || c >= 0x7f {
			return ErrInvalidCharacter
		}
	}
	return nil
}

func checkPath(p string) error {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '#':
			return ErrFragment
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return ErrBadEscape
			}
			if p[i+1] == '0' && p[i+2] == '0' {
				return ErrEncodedNUL
			}
			i += 2
		case c == '/' || c == '\\' || isPchar(c):
		default:
			return ErrInvalidCharacter
		}
	}
	return nil
}

// isPchar: RFC 3986 unreserved, sub-delims, ":" and "@", plus "[" and "]",
// which Go's url package (the forwarder) also leaves unescaped.
func isPchar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	return strings.IndexByte("!$&'()*+,;=:@[]", c) >= 0
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

const upperHex = "0123456789ABCDEF"

// decode is one pass over a checked path: unreserved escapes decoded, other
// escapes upper-cased, backslash → "/", and (slashes) %2F / %5C → "/".
func decode(p string, slashes bool) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			b.WriteByte('/')
		case '%':
			v := unhex(p[i+1])<<4 | unhex(p[i+2])
			i += 2
			switch {
			case isUnreserved(v):
				b.WriteByte(v)
			case slashes && (v == '/' || v == '\\'):
				b.WriteByte('/')
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&0xf])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path: "." segments
// vanish, ".." removes the previous segment (never above the root), and a path
// ending in a dot segment keeps its trailing slash.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
