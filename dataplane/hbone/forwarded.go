package hbone

import (
	"errors"
	"net/netip"
	"strings"
)

// Forwarded is one RFC 7239 forwarded-element as HBONE uses it:
// `for="<src ip:port>"` and, for Service destinations, `;host=<hostname>`.
// HBONE headers are untrusted input: never use them for authorization.
type Forwarded struct {
	For   string // node, e.g. "10.0.0.1:4242" or "[fd00::1]:80"; may be empty
	Host  string
	By    string
	Proto string
}

// maxForwardedLen bounds parsing work; the header list limit bounds it too.
const maxForwardedLen = 8 << 10

// ErrForwarded reports a malformed Forwarded header.
var ErrForwarded = errors.New("hbone: malformed Forwarded header")

// ForwardedFor builds the value ztunnel sends: for="ip:port" plus
// ;host=<host> when host is non-empty.
func ForwardedFor(src netip.AddrPort, host string) string {
	return Forwarded{For: src.String(), Host: host}.String()
}

// String renders the element, quoting values that are not plain tokens.
func (f Forwarded) String() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		writeMaybeQuoted(&b, v)
	}
	add("for", f.For)
	add("by", f.By)
	add("host", f.Host)
	add("proto", f.Proto)
	return b.String()
}

// ForAddr returns the For node as an address when it is an ip:port.
func (f Forwarded) ForAddr() (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(f.For)
	return ap, err == nil
}

// ParseForwarded parses a Forwarded header value into its elements.
// Parsing is total: any input returns elements or ErrForwarded, never panics.
func ParseForwarded(v string) ([]Forwarded, error) {
	if len(v) > maxForwardedLen {
		return nil, ErrForwarded
	}
	var out []Forwarded
	p := fwdParser{s: v}
	for {
		var el Forwarded
		for {
			p.skipOWS()
			key := strings.ToLower(p.token())
			if key == "" || !p.consume('=') {
				return nil, ErrForwarded
			}
			val, ok := p.value()
			if !ok {
				return nil, ErrForwarded
			}
			switch key {
			case "for":
				el.For = val
			case "by":
				el.By = val
			case "host":
				el.Host = val
			case "proto":
				el.Proto = val
			}
			p.skipOWS()
			if !p.consume(';') {
				break
			}
		}
		out = append(out, el)
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if !p.consume(',') {
			return nil, ErrForwarded
		}
	}
}

type fwdParser struct {
	s string
	i int
}

func (p *fwdParser) done() bool { return p.i >= len(p.s) }

func (p *fwdParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *fwdParser) consume(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fwdParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *fwdParser) value() (string, bool) {
	if !p.consume('"') {
		t := p.token()
		return t, t != ""
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\':
			if p.i >= len(p.s) || !isQuotedByte(p.s[p.i]) {
				return "", false
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case isQuotedByte(c):
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return "", false
}

// isTokenByte is RFC 9110 tchar.
func isTokenByte(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isQuotedByte is qdtext or quoted-pair payload restricted to visible ASCII,
// space and tab (obs-text is rejected to keep values ASCII).
func isQuotedByte(c byte) bool { return c == '\t' || (c >= 0x20 && c < 0x7f) }

func writeMaybeQuoted(b *strings.Builder, v string) {
	plain := v != ""
	for i := 0; i < len(v); i++ {
		if !isTokenByte(v[i]) {
			plain = false
			break
		}
	}
	if plain {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		if !isQuotedByte(c) {
			c = '?' // non-representable byte; Forwarded is ASCII only
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
}
