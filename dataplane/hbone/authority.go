package hbone

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxAuthorityLen bounds :authority: a 253-byte DNS name plus ":65535".
const maxAuthorityLen = 253 + 6

// Authority is a parsed CONNECT :authority, either ip:port or host:port.
type Authority struct {
	// IP is valid when the authority names an IP literal (IPv4-mapped IPv6
	// addresses are unmapped so they compare equal to the socket address).
	IP netip.Addr
	// Host is the hostname when IP is not valid.
	Host string
	Port uint16
}

// IsIP reports whether the authority is an IP literal.
func (a Authority) IsIP() bool { return a.IP.IsValid() }

// AddrPort returns ip:port; only meaningful when IsIP.
func (a Authority) AddrPort() netip.AddrPort { return netip.AddrPortFrom(a.IP, a.Port) }

// String renders the authority in canonical wire form.
func (a Authority) String() string {
	if a.IsIP() {
		return a.AddrPort().String()
	}
	return a.Host + ":" + strconv.Itoa(int(a.Port))
}

// AuthorityError explains why an :authority was rejected.
type AuthorityError struct {
	Input  string // truncated to 64 bytes
	Reason string
}

func (e *AuthorityError) Error() string {
	return fmt.Sprintf("hbone: invalid authority %q: %s", e.Input, e.Reason)
}

var errEmptyAuthority = errors.New("hbone: empty authority")

// ParseAuthority parses a CONNECT :authority: "ip:port", "[ipv6]:port" or
// "hostname:port". It rejects scoped IPv6 literals, unbracketed IPv6, empty,
// zero, signed or out-of-range ports, non-ASCII and control bytes, userinfo,
// and anything longer than a DNS name plus port.
func ParseAuthority(s string) (Authority, error) {
	if s == "" {
		return Authority{}, errEmptyAuthority
	}
	bad := func(reason string) (Authority, error) {
		in := s
		if len(in) > 64 {
			in = in[:64]
		}
		return Authority{}, &AuthorityError{Input: in, Reason: reason}
	}
	if len(s) > maxAuthorityLen {
		return bad("too long")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return bad("control, space or non-ASCII byte")
		}
	}
	colon := strings.LastIndexByte(s, ':')
	if colon < 0 {
		return bad("missing port")
	}
	host, portStr := s[:colon], s[colon+1:]
	port, err := parsePort(portStr)
	if err != nil {
		return bad(err.Error())
	}
	if host == "" {
		return bad("missing host")
	}
	if host[0] == '[' {
		if host[len(host)-1] != ']' {
			return bad("unterminated IPv6 literal")
		}
		lit := host[1 : len(host)-1]
		if strings.IndexByte(lit, '%') >= 0 {
			return bad("scoped IPv6 literal")
		}
		ip, err := netip.ParseAddr(lit)
		if err != nil || !ip.Is6() {
			return bad("malformed IPv6 literal")
		}
		return Authority{IP: ip.Unmap(), Port: port}, nil
	}
	if strings.IndexByte(host, ':') >= 0 {
		return bad("IPv6 literal must be bracketed")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return Authority{IP: ip, Port: port}, nil
	}
	if reason := checkHostname(host); reason != "" {
		return bad(reason)
	}
	return Authority{Host: host, Port: port}, nil
}

// parsePort accepts 1..65535 in plain decimal without sign or leading zeros
// beyond a single digit, so "080" and "+80" are not alternative spellings.
func parsePort(p string) (uint16, error) {
	if p == "" {
		return 0, errors.New("empty port")
	}
	if len(p) > 5 || (len(p) > 1 && p[0] == '0') {
		return 0, errors.New("port out of range")
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, errors.New("non-numeric port")
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > 65535 {
		return 0, errors.New("port out of range")
	}
	return uint16(n), nil
}

// checkHostname applies DNS label rules (RFC 1123, plus '_' which
// Kubernetes service names never contain but SRV-style names do).
func checkHostname(h string) string {
	if len(h) > 253 {
		return "hostname too long"
	}
	h = strings.TrimSuffix(h, ".") // fully qualified names are accepted
	if h == "" {
		return "missing host"
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return "empty or oversize DNS label"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "DNS label starts or ends with '-'"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return "invalid hostname byte"
			}
		}
	}
	return ""
}
