package route

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Validate checks the table and compiles its regular expressions; where
// names the table in errors ("services[2] apps/reviews"). It must run
// before Select (config.Snapshot.Validate does it on every decode).
func (t *Table) Validate(where string) error {
	if t == nil {
		return nil
	}
	for i := range t.HTTP {
		r := &t.HTTP[i]
		at := fmt.Sprintf("%s: routing.http[%d] %s", where, i, r.Name)
		if err := r.validate(); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	for i := range t.TCP {
		r := &t.TCP[i]
		if err := validateBackends(r.Backends); err != nil {
			return fmt.Errorf("%s: routing.tcp[%d] %s: %w", where, i, r.Name, err)
		}
	}
	return nil
}

func (r *HTTPRoute) validate() error {
	if r.Name == "" {
		return fmt.Errorf("name is required")
	}
	switch r.Source {
	case SourceHTTPRoute, SourceVirtualService:
	default:
		return fmt.Errorf("source %q is not %s or %s", r.Source, SourceHTTPRoute, SourceVirtualService)
	}
	if err := r.Match.validate(); err != nil {
		return fmt.Errorf("match: %w", err)
	}
	if err := validateBackends(r.Backends); err != nil {
		return err
	}
	if r.Redirect != nil {
		if err := r.Redirect.validate(); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
	}
	if r.Rewrite != nil {
		if err := validatePathModifier(r.Rewrite.Path, r.Match.Path); err != nil {
			return fmt.Errorf("rewrite: %w", err)
		}
		if strings.ContainsAny(r.Rewrite.Hostname, " /\t\r\n") {
			return fmt.Errorf("rewrite: hostname %q is not a host", r.Rewrite.Hostname)
		}
	}
	for _, m := range []struct {
		name string
		mod  *HeaderModifier
	}{{"requestHeaders", r.RequestHeaders}, {"responseHeaders", r.ResponseHeaders}} {
		if err := m.mod.validate(); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	if r.Retry != nil {
		if err := r.Retry.validate(); err != nil {
			return fmt.Errorf("retry: %w", err)
		}
	}
	if r.Fault != nil {
		if err := r.Fault.validate(); err != nil {
			return fmt.Errorf("fault: %w", err)
		}
	}
	return nil
}

func (m *Match) validate() error {
	if p := m.Path; p != nil {
		switch p.Type {
		case PathExact, PathPrefix, PathStringPrefix:
			if !strings.HasPrefix(p.Value, "/") {
				return fmt.Errorf("path %s %q must start with /", p.Type, p.Value)
			}
		case PathRegex:
			re, err := compileFull(p.Value)
			if err != nil {
				return fmt.Errorf("path regex %q: %w", p.Value, err)
			}
			p.re = re
		default:
			return fmt.Errorf("path type %q unknown", p.Type)
		}
	}
	if m.Method != "" && !validToken(m.Method) {
		return fmt.Errorf("method %q is not an HTTP token", m.Method)
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		if !validToken(h.Name) {
			return fmt.Errorf("headers[%d]: name %q is not an HTTP token", i, h.Name)
		}
		re, err := compileIf(h.Type, h.Value)
		if err != nil {
			return fmt.Errorf("headers[%d] %s: %w", i, h.Name, err)
		}
		h.re = re
	}
	for i := range m.Query {
		q := &m.Query[i]
		if q.Name == "" {
			return fmt.Errorf("query[%d]: name is required", i)
		}
		re, err := compileIf(q.Type, q.Value)
		if err != nil {
			return fmt.Errorf("query[%d] %s: %w", i, q.Name, err)
		}
		q.re = re
	}
	return nil
}

func compileIf(t StringMatchType, v string) (*regexp.Regexp, error) {
	switch t {
	case StringExact, StringPrefix:
		return nil, nil
	case StringRegex:
		re, err := compileFull(v)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", v, err)
		}
		return re, nil
	}
	return nil, fmt.Errorf("match type %q unknown", t)
}

func validateBackends(bs []Backend) error {
	for i := range bs {
		b := &bs[i]
		if b.Service == "" {
			return fmt.Errorf("backends[%d]: service is required", i)
		}
		if b.Address.IsValid() && (b.Address.Port() == 0) != (b.Port == 0) {
			return fmt.Errorf("backends[%d] %s: address %s and port %d disagree", i, b.Service, b.Address, b.Port)
		}
	}
	return nil
}

func (r *Redirect) validate() error {
	switch r.Scheme {
	case "", "http", "https":
	default:
		return fmt.Errorf("scheme %q is not http or https", r.Scheme)
	}
	switch r.StatusCode {
	case 0, 301, 302, 303, 307, 308:
	default:
		return fmt.Errorf("statusCode %d is not 301, 302, 303, 307 or 308", r.StatusCode)
	}
	if strings.ContainsAny(r.Hostname, " /\t\r\n") {
		return fmt.Errorf("hostname %q is not a host", r.Hostname)
	}
	return validatePathModifier(r.Path, nil)
}

func validatePathModifier(m *PathModifier, _ *PathMatch) error {
	if m == nil {
		return nil
	}
	switch m.Type {
	case ReplaceFullPath, ReplacePrefixMatch:
	default:
		return fmt.Errorf("path type %q unknown", m.Type)
	}
	if strings.ContainsAny(m.Value, "?# \t\r\n") {
		return fmt.Errorf("path %q must be a path without query or fragment", m.Value)
	}
	if m.Type == ReplaceFullPath && !strings.HasPrefix(m.Value, "/") {
		return fmt.Errorf("path %q must start with /", m.Value)
	}
	return nil
}

// forbiddenHeaders may not be modified: Envoy rejects ":"-prefixed and
// host edits in request_headers_to_add/remove.
func (m *HeaderModifier) validate() error {
	if m == nil {
		return nil
	}
	check := func(name string) error {
		if !validToken(name) {
			return fmt.Errorf("header name %q is not an HTTP token", name)
		}
		if strings.EqualFold(name, "host") {
			return fmt.Errorf("header %q may not be modified (use a rewrite hostname)", name)
		}
		return nil
	}
	for _, kv := range slices.Concat(m.Set, m.Add) {
		if err := check(kv.Name); err != nil {
			return err
		}
		if strings.ContainsAny(kv.Value, "\r\n\x00") {
			return fmt.Errorf("header %s: value contains CR, LF or NUL", kv.Name)
		}
	}
	for _, n := range m.Remove {
		if err := check(n); err != nil {
			return err
		}
	}
	return nil
}

func (p *Retry) validate() error {
	if p.Attempts < 0 {
		return fmt.Errorf("attempts %d is negative", p.Attempts)
	}
	for _, c := range p.On {
		if !slices.Contains(RetryConditions, c) {
			return fmt.Errorf("retry condition %q unknown", c)
		}
	}
	for _, c := range p.Codes {
		if http.StatusText(c) == "" && (c < 100 || c > 599) {
			return fmt.Errorf("code %d is not an HTTP status", c)
		}
	}
	return nil
}

func (f *Fault) validate() error {
	if f.Delay != nil && (f.Delay.Percent < 0 || f.Delay.Percent > 100) {
		return fmt.Errorf("delay percent %v not in [0, 100]", f.Delay.Percent)
	}
	if a := f.Abort; a != nil {
		if a.Percent < 0 || a.Percent > 100 {
			return fmt.Errorf("abort percent %v not in [0, 100]", a.Percent)
		}
		if (a.HTTPStatus == 0) == (a.GRPCStatus == "") {
			return fmt.Errorf("abort: exactly one of httpStatus and grpcStatus")
		}
		if a.HTTPStatus != 0 && (a.HTTPStatus < 200 || a.HTTPStatus > 599) {
			return fmt.Errorf("abort httpStatus %d not in [200, 599]", a.HTTPStatus)
		}
		if _, ok := GRPCStatusNumber(a.GRPCStatus); a.GRPCStatus != "" && !ok {
			return fmt.Errorf("abort grpcStatus %q unknown", a.GRPCStatus)
		}
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
