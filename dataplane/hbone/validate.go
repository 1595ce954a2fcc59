package hbone

import (
	"net/http"
	"net/netip"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// AuthorityMode says which CONNECT :authority values a Server accepts.
type AuthorityMode uint8

const (
	// AuthorityMatchDst: an IP literal equal to the connection's destination
	// IP (ztunnel inbound, step 4: otherwise 400 "ip mismatch").
	AuthorityMatchDst AuthorityMode = iota
	// AuthorityAnyIP: any IP literal (a waypoint on the wire).
	AuthorityAnyIP
	// AuthorityAny: IP literal or hostname (waypoints, double HBONE).
	AuthorityAny
)

func (m AuthorityMode) String() string {
	switch m {
	case AuthorityMatchDst:
		return "match-dst"
	case AuthorityAnyIP:
		return "any-ip"
	case AuthorityAny:
		return "any"
	}
	return "unknown"
}

// RejectReason is the closed set of reasons the wire layer refuses a
// request before any handler runs; they appear in logs.
type RejectReason string

const (
	ReasonNotConnect        RejectReason = "method is not CONNECT"
	ReasonExtendedConnect   RejectReason = "extended CONNECT (:protocol) not supported"
	ReasonMissingAuthority  RejectReason = "missing :authority"
	ReasonBadAuthority      RejectReason = "malformed :authority"
	ReasonHostnameAuthority RejectReason = "hostname authority not allowed"
	ReasonIPMismatch        RejectReason = "ip mismatch"
	ReasonHeadersTooLarge   RejectReason = "header list too large"
	ReasonMalformed         RejectReason = "malformed request"
)

// verdict is the outcome of validating a request header block: either a
// request, an HTTP status to answer with, or an RST_STREAM code.
type verdict struct {
	authority Authority
	header    http.Header
	status    int           // non-zero: answer with this status and END_STREAM
	rst       http2.ErrCode // used when status == 0 and reject is true
	reject    bool
	reason    RejectReason
}

// validateConnect applies HBONE's wire rules to a decoded header block.
// It is pure, so the status table is table-tested without a network.
func validateConnect(fields []hpack.HeaderField, truncated bool, mode AuthorityMode, dst netip.Addr) verdict {
	if truncated {
		return verdict{reject: true, status: http.StatusRequestHeaderFieldsTooLarge, reason: ReasonHeadersTooLarge}
	}
	var method, authority string
	var hasAuthority, hasProtocol, hasPathOrScheme, malformed bool
	header := make(http.Header)
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":authority":
			authority, hasAuthority = f.Value, true
		case ":protocol":
			hasProtocol = true
		case ":path", ":scheme":
			hasPathOrScheme = true
		case ":status":
			malformed = true
		default:
			if connectionSpecific(f.Name, f.Value) {
				malformed = true
				continue
			}
			k := http.CanonicalHeaderKey(f.Name)
			header[k] = append(header[k], f.Value)
		}
	}
	switch {
	case malformed:
		return verdict{reject: true, rst: http2.ErrCodeProtocol, reason: ReasonMalformed}
	case method != http.MethodConnect:
		return verdict{reject: true, status: http.StatusBadRequest, reason: ReasonNotConnect}
	case hasProtocol:
		return verdict{reject: true, status: http.StatusBadRequest, reason: ReasonExtendedConnect}
	case hasPathOrScheme:
		// RFC 9113 §8.5: CONNECT must omit :scheme and :path; malformed.
		return verdict{reject: true, rst: http2.ErrCodeProtocol, reason: ReasonMalformed}
	case !hasAuthority || authority == "":
		return verdict{reject: true, status: http.StatusBadRequest, reason: ReasonMissingAuthority}
	}
	a, err := ParseAuthority(authority)
	if err != nil {
		return verdict{reject: true, status: http.StatusBadRequest, reason: ReasonBadAuthority}
	}
	if !a.IsIP() && mode != AuthorityAny {
		return verdict{reject: true, status: http.StatusBadRequest, reason: ReasonHostnameAuthority}
	}
	if mode == AuthorityMatchDst && a.IP.Unmap() != dst.Unmap() {
		return verdict{reject: true, status: http.StatusBadRequest, reason: ReasonIPMismatch}
	}
	return verdict{authority: a, header: header}
}
