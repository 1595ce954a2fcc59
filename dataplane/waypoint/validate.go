package waypoint

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
)

// validateFilter rejects ambiguous or malformed requests (400) and fills the
// Exchange's Host, Target, Path, Query and Header. Go's server has already
// refused some framing errors (differing Content-Length, "chunked, identity",
// space before colon, duplicate Host); it accepts the rest, so every check
// below is one Go does not make (reliability §1.4 measurement).
func validateFilter(mode pathnorm.Mode) Filter {
	return func(next Handler) Handler {
		return handlerFunc{name: "validate", fn: func(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
			if rej := validate(ex, mode); rej != nil {
				return rej
			}
			return next.ServeL7(ctx, w, ex)
		}}
	}
}

func validate(ex *Exchange, mode pathnorm.Mode) *Reject {
	r := ex.Req
	if !validMethod(r.Method) {
		// Divergence: Envoy forwards "get" as an extension method; we refuse
		// it so `methods`/`notMethods` cannot be dodged by case (W3).
		return badRequest("validate", "method is not an upper-case token: "+strconv.Quote(r.Method))
	}
	if r.Method == http.MethodConnect {
		return badRequest("validate", "CONNECT inside the tunnel")
	}
	for name, vals := range r.Header {
		if !validHeaderName(name) {
			return badRequest("validate", "invalid header name "+strconv.Quote(name))
		}
		for _, v := range vals {
			if !validHeaderValue(v) {
				return badRequest("validate", "control byte in header "+name)
			}
			if v != "" && (isFieldWhitespace(v[0]) || isFieldWhitespace(v[len(v)-1])) {
				// RFC 9113 §8.2.1: malformed in HTTP/2 (Go's h2 server lets it
				// through; HTTP/1 parsing already trimmed it). An HTTP/1
				// backend trims it, so matching the untrimmed value would let
				// " mallory" past a DENY on "mallory".
				return badRequest("validate", "leading or trailing whitespace in header "+name)
			}
		}
	}
	if up := r.Header.Values("Upgrade"); len(up) > 0 {
		// No h2c (ADA Logics audit, CVE-2022-41721) and no upgrades yet.
		return badRequest("validate", "protocol upgrade is not supported")
	}
	host, rej := reconcileHost(r)
	if rej != nil {
		return rej
	}
	rawTarget := r.RequestURI
	if i := strings.Index(rawTarget, "://"); i > 0 && !strings.HasPrefix(rawTarget, "/") {
		// absolute-form: Go took the authority as r.Host; keep only the path.
		rest := rawTarget[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			rawTarget = "/"
		} else if rest[j] == '?' {
			rawTarget = "/" + rest[j:]
		} else {
			rawTarget = rest[j:]
		}
	}
	target, err := pathnorm.Normalize(rawTarget, mode)
	if err != nil {
		return badRequest("validate", err.Error())
	}
	ex.Host = host
	ex.Target = target
	ex.Path, ex.Query = pathnorm.SplitQuery(target)
	ex.Header = r.Header.Clone()
	return nil
}

// reconcileHost returns the one authority used for both authz and routing.
// Go already made r.Host the absolute-form authority (RFC 9112 §3.2.2) or the
// single Host header (HTTP/1) or :authority (HTTP/2). A Host header that is
// still present and disagrees (HTTP/2 :authority vs Host) is ambiguous → 400.
func reconcileHost(r *http.Request) (string, *Reject) {
	if i := strings.Index(r.RequestURI, "://"); i > 0 && !strings.HasPrefix(r.RequestURI, "/") {
		scheme := strings.ToLower(r.RequestURI[:i])
		if scheme != "http" && scheme != "https" {
			return "", badRequest("validate", "absolute-form scheme "+strconv.Quote(scheme))
		}
	}
	if hs := r.Header.Values("Host"); len(hs) > 1 || len(hs) == 1 && !strings.EqualFold(hs[0], r.Host) {
		return "", badRequest("validate", "Host header disagrees with the request authority")
	}
	host := strings.ToLower(r.Host)
	if h, p := splitHostPort(host); strings.HasSuffix(h, ".") && len(h) > 1 {
		// "example.com." is the same DNS name; fold it so a host rule cannot be
		// dodged with the root label.
		host = strings.TrimSuffix(h, ".")
		if p != "" {
			host += ":" + p
		}
	}
	if !validAuthority(host) {
		return "", badRequest("validate", "invalid host "+strconv.Quote(r.Host))
	}
	return host, nil
}

// validAuthority accepts reg-name, IPv4 or [IPv6], with an optional numeric
// port — no userinfo, no empty host, no stray bytes.
func validAuthority(a string) bool {
	host, port := splitHostPort(a)
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || port[0] == '+' {
			return false
		}
	}
	if strings.HasPrefix(host, "[") {
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		return err == nil && ip.Is6() && ip.Zone() == "" && strings.HasSuffix(host, "]")
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// splitHostPort splits "host[:port]" where host may be "[v6]"; port is "" if
// absent. A trailing ":" yields port ":" so validation fails.
func splitHostPort(a string) (host, port string) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.HasPrefix(a, "[") && strings.LastIndexByte(a, ']') > i {
		return a, ""
	}
	if i == len(a)-1 {
		return a[:i], ":"
	}
	return a[:i], a[i+1:]
}

// hostWithoutPort is the lower-case host for port-less `hosts` matching.
func hostWithoutPort(a string) string {
	h, _ := splitHostPort(a)
	return h
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if 'a' <= c && c <= 'z' || !isTchar(c) {
			return false
		}
	}
	return true
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isTchar(n[i]) {
			return false
		}
	}
	return true
}

// validHeaderValue: no CR, LF, NUL or other controls except HTAB (RFC 9110
// §5.5; W7 — these are what turn an HTTP/2 value into an HTTP/1 injection).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func isFieldWhitespace(c byte) bool { return c == ' ' || c == '\t' }

// isTchar is RFC 9110 §5.6.2 token.
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
