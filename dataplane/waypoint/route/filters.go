package route

import (
	"net/http"
	"strconv"
	"strings"
)

// Apply edits h: removals, then sets, then additions.
func (m *HeaderModifier) Apply(h http.Header) {
	if m == nil {
		return
	}
	for _, name := range m.Remove {
		h.Del(name)
	}
	for _, kv := range m.Set {
		h.Set(kv.Name, kv.Value)
	}
	for _, kv := range m.Add {
		h.Add(kv.Name, kv.Value)
	}
}

// PathModifierType is how a redirect or rewrite changes the path.
type PathModifierType string

const (
	// ReplaceFullPath replaces the whole path.
	ReplaceFullPath PathModifierType = "ReplaceFullPath"
	// ReplacePrefixMatch replaces the part of the path the route's path
	// match matched (Gateway API semantics for PathPrefix, Envoy
	// prefix_rewrite for a VirtualService string prefix).
	ReplacePrefixMatch PathModifierType = "ReplacePrefixMatch"
)

// PathModifier changes a path.
type PathModifier struct {
	Type  PathModifierType `json:"type"`
	Value string           `json:"value"`
}

// Redirect answers the request with a redirect (Gateway API
// RequestRedirect, VirtualService redirect). Empty fields keep the
// request's value.
type Redirect struct {
	Scheme   string        `json:"scheme,omitempty"`
	Hostname string        `json:"hostname,omitempty"`
	Port     uint16        `json:"port,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
	// StatusCode defaults to 302.
	StatusCode int `json:"statusCode,omitempty"`
}

// Rewrite changes the forwarded request (Gateway API URLRewrite,
// VirtualService rewrite). Hostname replaces the Host header.
type Rewrite struct {
	Hostname string        `json:"hostname,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
}

// RewritePath applies mod to path, which matched match (nil: no path
// match, i.e. prefix "/").
func RewritePath(mod *PathModifier, match *PathMatch, path string) string {
	if mod == nil {
		return path
	}
	if mod.Type == ReplaceFullPath {
		return mod.Value
	}
	if match == nil {
		match = &PathMatch{Type: PathPrefix, Value: "/"}
	}
	switch match.Type {
	case PathExact, PathRegex:
		// Envoy prefix_rewrite on a `path` route replaces all of it; a regex
		// route has no prefix to replace, so it is treated the same.
		return mod.Value
	case PathStringPrefix:
		if strings.HasPrefix(path, match.Value) {
			return mod.Value + path[len(match.Value):]
		}
		return path
	}
	// Gateway API PathPrefix: the rest starts at a segment boundary, and
	// the replacement's trailing "/" is not doubled ("/foo" → "/", request
	// "/foo/bar" → "/bar"; "/foo" → "/xyz/", "/foo/bar" → "/xyz/bar").
	prefix := strings.TrimSuffix(match.Value, "/")
	if !SegmentPrefixMatch(match.Value, path) {
		return path
	}
	rest := path[len(prefix):]
	out := strings.TrimSuffix(mod.Value, "/") + rest
	if out == "" {
		return "/"
	}
	if out[0] != '/' {
		out = "/" + out
	}
	return out
}

// Location builds the redirect target for a request to hostname (the
// Host header without its port) on listenerPort (the Service port the
// request addressed), with its path and raw query. Gateway API
// HTTPRequestRedirectFilter.Port: without Port, a Scheme implies its
// well-known port and no Scheme keeps the listener port; well-known ports
// (80 for http, 443 for https) are left out of the Location.
func (r *Redirect) Location(scheme, hostname string, listenerPort uint16, match *PathMatch, path, rawQuery string) string {
	port := listenerPort
	if r.Scheme != "" {
		scheme, port = r.Scheme, 0
	}
	if r.Hostname != "" {
		hostname = r.Hostname
	}
	if r.Port != 0 {
		port = r.Port
	}
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) {
		port = 0
	}
	var b strings.Builder
	b.WriteString(scheme + "://" + hostname)
	if port != 0 {
		b.WriteString(":" + strconv.Itoa(int(port)))
	}
	b.WriteString(RewritePath(r.Path, match, path))
	if rawQuery != "" {
		b.WriteString("?" + rawQuery)
	}
	return b.String()
}

// Status is the redirect's status code (302 unless set).
func (r *Redirect) Status() int {
	if r.StatusCode == 0 {
		return http.StatusFound
	}
	return r.StatusCode
}
