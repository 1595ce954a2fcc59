package jwtauthn

import (
	"net/http"
	"net/url"
	"strings"
)

// location is one place a token may be: a header (with prefix) or a query
// parameter. issuers lists the rules that read it: Envoy only accepts a token
// for an issuer whose provider configures the location it was found in.
type location struct {
	header, prefix, param string
	issuers               map[string]bool
}

func (l *location) key() string {
	if l.param != "" {
		return "?" + l.param
	}
	return http.CanonicalHeaderKey(l.header) + " " + l.prefix
}

// ruleLocations is the rule's configured locations, or Envoy's defaults.
func ruleLocations(r *Rule) []location {
	var out []location
	for _, h := range r.FromHeaders {
		out = append(out, location{header: h.Name, prefix: h.Prefix})
	}
	for _, p := range r.FromParams {
		out = append(out, location{param: p})
	}
	if len(out) == 0 {
		out = []location{{header: "Authorization", prefix: "Bearer "}, {param: DefaultAccessTokenParam}}
	}
	return out
}

// token is one occurrence of a token in the request.
type token struct {
	loc   *location
	value string
}

// findTokens returns every token occurrence across all locations. A repeated
// header counts once per value, so "two Authorization headers" is ambiguous
// exactly like "a header and a parameter".
func findTokens(locs []*location, h http.Header, query url.Values) []token {
	var out []token
	for _, l := range locs {
		if l.param != "" {
			for _, v := range query[l.param] {
				out = append(out, token{loc: l, value: v})
			}
			continue
		}
		for _, v := range h.Values(l.header) {
			if len(v) < len(l.prefix) || !strings.EqualFold(v[:len(l.prefix)], l.prefix) {
				continue // e.g. "Authorization: Basic ..." is not ours
			}
			out = append(out, token{loc: l, value: strings.TrimSpace(v[len(l.prefix):])})
		}
	}
	return out
}
