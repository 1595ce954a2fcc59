package hbone

import (
	"net/http"
	"net/netip"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// PoolKey selects a pooled connection: streams share an HTTP/2 connection
// only when source identity, destination identity and destination IP all
// match (ambient-semantics.md §3, "Pool key").
type PoolKey struct {
	SrcIdentity string
	DstIdentity string
	DstIP       netip.Addr
}

// Request describes one CONNECT.
type Request struct {
	// Target is the TCP address to dial, usually podIP:15008.
	Target netip.AddrPort
	// Authority is the CONNECT :authority, ip:port or host:port.
	Authority string
	// Key is the pool key; a zero DstIP defaults to Target's address.
	Key PoolKey
	// Header carries Forwarded, baggage, traceparent and similar headers.
	// Connection-specific headers (RFC 9113 §8.2.2) are dropped.
	Header http.Header
}

// connectionSpecific are the headers HTTP/2 forbids (RFC 9113 §8.2.2); a
// peer sending them is malformed, so we neither send nor accept them.
func connectionSpecific(lowerName, value string) bool {
	switch lowerName {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	case "te":
		return value != "trailers"
	case "host":
		return true // :authority is authoritative; a second source is ambiguous
	}
	return false
}

// requestFields builds the CONNECT header block.
func requestFields(authority string, h http.Header) []hpack.HeaderField {
	fields := make([]hpack.HeaderField, 0, 2+len(h))
	fields = append(fields,
		hpack.HeaderField{Name: ":method", Value: "CONNECT"},
		hpack.HeaderField{Name: ":authority", Value: authority},
	)
	for k, vs := range h {
		name := strings.ToLower(k)
		for _, v := range vs {
			if connectionSpecific(name, v) || name == "" || name[0] == ':' {
				continue
			}
			fields = append(fields, hpack.HeaderField{Name: name, Value: v, Sensitive: false})
		}
	}
	return fields
}
