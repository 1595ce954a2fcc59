package policy

import "strings"

// Derived request attributes.
//
// Some Istio `when` keys are not HTTP headers: request.auth.claims[...],
// request.auth.audiences, request.auth.presenter, and the request host without
// its port. Rather than widen Match, they travel in Request.Headers under names
// that no HTTP field can carry: every one starts with ':' (not an RFC 9110
// token character, and Go's HTTP/1 and HTTP/2 servers never put a
// pseudo-header into http.Header), so a client cannot forge them and the
// existing HeaderMatch — one value at a time (W5) — evaluates them.
//
// Istio matches claims through Envoy's metadata matcher on the jwt_authn
// payload (istio `pilot/pkg/security/authz/model/generator.go` requestClaimGenerator):
// string claims and each element of a string-list claim match; other JSON
// types never do. ClaimValues reproduces that.
const (
	// AttrAuthorityHost is the request host, lower-cased, without ":port", so
	// a port-less `hosts` value matches "Example.com:8000" too (W4).
	AttrAuthorityHost = ":authority-host"
	// AttrRequestAudiences holds each `aud` of the validated JWT.
	AttrRequestAudiences = ":request.auth.audiences"
	// AttrRequestPresenter holds the validated JWT's `azp`.
	AttrRequestPresenter = ":request.auth.presenter"
)

// ClaimAttribute is the header name for request.auth.claims[p0][p1]...; claim
// names are case-sensitive in Istio, so every byte outside [a-z0-9._-] is
// escaped as %xx (lower-case hex) and the case-insensitive header-name
// comparison cannot merge "Role" with "role".
func ClaimAttribute(path ...string) string {
	var b strings.Builder
	b.WriteString(":request.auth.claims")
	for _, p := range path {
		b.WriteByte('[')
		for i := 0; i < len(p); i++ {
			c := p[i]
			if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
				b.WriteByte(c)
				continue
			}
			const hex = "0123456789abcdef"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		b.WriteByte(']')
	}
	return b.String()
}

// maxClaimDepth bounds the nesting ClaimValues walks (Istio documents nested
// claims; nobody nests deeper than a handful of levels).
const maxClaimDepth = 4

// ClaimValues flattens decoded JWT claims into derived attributes: each string
// claim, and each string element of a list claim, under ClaimAttribute(path).
func ClaimValues(claims map[string]any) map[string][]string {
	out := map[string][]string{}
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		switch x := v.(type) {
		case string:
			k := ClaimAttribute(path...)
			out[k] = append(out[k], x)
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					k := ClaimAttribute(path...)
					out[k] = append(out[k], s)
				}
			}
		case map[string]any:
			if len(path) >= maxClaimDepth {
				return
			}
			for name, e := range x {
				walk(append(path[:len(path):len(path)], name), e)
			}
		}
	}
	for name, v := range claims {
		walk([]string{name}, v)
	}
	return out
}

// IsDerivedAttribute reports whether a header name is reserved for derived
// attributes; a request builder must drop such names from client input.
func IsDerivedAttribute(name string) bool { return strings.HasPrefix(name, ":") }
