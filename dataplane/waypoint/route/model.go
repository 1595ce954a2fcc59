package route

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"time"
)

// Table is the routing of one Service. A nil or empty Table routes every
// request to the original destination (the Service VIP:port).
type Table struct {
	// HTTP routes in match order: the first whose Match matches wins. When
	// HTTP is non-empty and nothing matches, the answer is 404 (Gateway API
	// HTTPRouteRule.Matches; Envoy "NR").
	HTTP []HTTPRoute `json:"http,omitempty"`
	// TCP routes for TCP ports; the first one applies (TCPRoute has no
	// matches in the mesh).
	TCP []TCPRoute `json:"tcp,omitempty"`
}

// Source says which API a route came from; it decides nothing at runtime but
// names the origin in logs and config dumps.
type Source string

const (
	SourceHTTPRoute      Source = "HTTPRoute"
	SourceVirtualService Source = "VirtualService"
	SourceTCPRoute       Source = "TCPRoute"
)

// HTTPRoute is one match of one rule, with the rule's action.
type HTTPRoute struct {
	// Name identifies the route: "<ns>/<object>/<rule>/<match>".
	Name   string `json:"name"`
	Source Source `json:"source"`
	// Port limits the route to requests for this Service port (GAMMA
	// parentRef port, VirtualService match port); 0 means every port.
	Port  uint16 `json:"port,omitempty"`
	Match Match  `json:"match"`
	// Backends are weighted; ignored when Redirect or Fault abort answers.
	// Empty (and no Redirect): 500, as Gateway API requires.
	Backends        []Backend       `json:"backends,omitempty"`
	Redirect        *Redirect       `json:"redirect,omitempty"`
	Rewrite         *Rewrite        `json:"rewrite,omitempty"`
	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	// Timeout bounds the whole request including retries; 0 means none
	// (Istio's default for waypoint routes).
	Timeout Duration `json:"timeout,omitempty"`
	// Retry nil means no retries.
	Retry *Retry `json:"retry,omitempty"`
	Fault *Fault `json:"fault,omitempty"`
}

// Match is an AND of its parts; a zero Match matches everything.
type Match struct {
	Path    *PathMatch    `json:"path,omitempty"`
	Headers []HeaderMatch `json:"headers,omitempty"`
	Query   []QueryMatch  `json:"query,omitempty"`
	// Method is an exact, case-sensitive method; empty matches any.
	Method string `json:"method,omitempty"`
}

// PathMatchType is how a path is matched.
type PathMatchType string

const (
	// PathExact: the path equals Value (Envoy `path`).
	PathExact PathMatchType = "Exact"
	// PathPrefix: segment-wise prefix, Gateway API PathPrefix (Envoy
	// `path_separated_prefix`): "/abc" matches "/abc", "/abc/" and
	// "/abc/def" but not "/abcd".
	PathPrefix PathMatchType = "PathPrefix"
	// PathStringPrefix: plain string prefix, VirtualService `uri.prefix`
	// (Envoy `prefix`): "/abc" also matches "/abcd".
	PathStringPrefix PathMatchType = "StringPrefix"
	// PathRegex: RE2 matched against the whole path (Envoy `safe_regex`).
	PathRegex PathMatchType = "RegularExpression"
)

// PathMatch matches the request path (never the query).
type PathMatch struct {
	Type  PathMatchType `json:"type"`
	Value string        `json:"value"`
	re    *regexp.Regexp
}

// StringMatchType is how a header or query value is matched.
type StringMatchType string

const (
	StringExact  StringMatchType = "Exact"
	StringPrefix StringMatchType = "Prefix"
	// StringRegex: RE2 matched against the whole value.
	StringRegex StringMatchType = "RegularExpression"
)

// HeaderMatch matches one header (name case-insensitive). Several values of
// the header are joined with "," first, as Envoy does.
type HeaderMatch struct {
	Name  string          `json:"name"`
	Type  StringMatchType `json:"type"`
	Value string          `json:"value"`
	// Invert makes the match succeed when the header is absent or does not
	// match (VirtualService withoutHeaders).
	Invert bool `json:"invert,omitempty"`
	re     *regexp.Regexp
}

// QueryMatch matches the first value of one query parameter (name
// case-sensitive, Gateway API HTTPQueryParamMatch).
type QueryMatch struct {
	Name  string          `json:"name"`
	Type  StringMatchType `json:"type"`
	Value string          `json:"value"`
	re    *regexp.Regexp
}

// Backend is one weighted destination: a Service port, carried with the
// VIP:port the control plane resolved it to.
type Backend struct {
	// Service is "<ns>/<name>"; Hostname its FQDN.
	Service  string `json:"service"`
	Hostname string `json:"hostname,omitempty"`
	Port     uint16 `json:"port"`
	// Address is the Service VIP:port. Invalid (zero) means the reference
	// did not resolve: requests picked for it get 500 (Gateway API
	// ResolvedRefs=False semantics). Port 0 means "the port the request was
	// sent to" (a VirtualService destination without a port on a Service
	// with several ports; Port is 0 then as well).
	Address netip.AddrPort `json:"address"`
	Weight  uint32         `json:"weight"`
}

// Resolved reports whether the backend has an address to send to.
func (b *Backend) Resolved() bool { return b.Address.IsValid() }

// Target is where to send a request that arrived on requestPort.
func (b *Backend) Target(requestPort uint16) netip.AddrPort {
	if b.Address.Port() == 0 {
		return netip.AddrPortFrom(b.Address.Addr(), requestPort)
	}
	return b.Address
}

// TCPRoute is a weighted TCP split.
type TCPRoute struct {
	Name     string    `json:"name"`
	Backends []Backend `json:"backends"`
}

// HeaderModifier edits headers: Remove, then Set (replace), then Add
// (append), Envoy's header-parser order (removals before additions).
type HeaderModifier struct {
	Set    []Header `json:"set,omitempty"`
	Add    []Header `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Header is one name/value pair.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Duration is a time.Duration written as Go duration text ("1.5s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: negative", s)
	}
	*d = Duration(v)
	return nil
}
