package hbone

import (
	"net/netip"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestValidateConnectStatusTable is the server's wire status table
// (ambient-semantics.md §3.1 steps 2–4).
func TestValidateConnectStatusTable(t *testing.T) {
	dst := netip.MustParseAddr("10.0.0.5")
	hf := func(kv ...string) []hpack.HeaderField {
		var out []hpack.HeaderField
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name      string
		fields    []hpack.HeaderField
		truncated bool
		mode      AuthorityMode
		status    int
		rst       http2.ErrCode
		reason    RejectReason
	}{
		{"ok", hf(":method", "CONNECT", ":authority", "10.0.0.5:8080", "baggage", "k=v"), false, AuthorityMatchDst, 0, 0, ""},
		{"GET", hf(":method", "GET", ":path", "/", ":scheme", "https", ":authority", "10.0.0.5:80"), false, AuthorityMatchDst, 400, 0, ReasonNotConnect},
		{"extended CONNECT", hf(":method", "CONNECT", ":protocol", "websocket", ":authority", "10.0.0.5:80"), false, AuthorityMatchDst, 400, 0, ReasonExtendedConnect},
		{"path", hf(":method", "CONNECT", ":authority", "10.0.0.5:80", ":path", "/"), false, AuthorityMatchDst, 0, http2.ErrCodeProtocol, ReasonMalformed},
		{"missing authority", hf(":method", "CONNECT"), false, AuthorityMatchDst, 400, 0, ReasonMissingAuthority},
		{"bad authority", hf(":method", "CONNECT", ":authority", "10.0.0.5"), false, AuthorityMatchDst, 400, 0, ReasonBadAuthority},
		{"ip mismatch", hf(":method", "CONNECT", ":authority", "10.0.0.6:80"), false, AuthorityMatchDst, 400, 0, ReasonIPMismatch},
		{"mismatch ok for waypoint", hf(":method", "CONNECT", ":authority", "10.0.0.6:80"), false, AuthorityAnyIP, 0, 0, ""},
		{"hostname refused", hf(":method", "CONNECT", ":authority", "svc.ns:80"), false, AuthorityAnyIP, 400, 0, ReasonHostnameAuthority},
		{"hostname ok", hf(":method", "CONNECT", ":authority", "svc.ns:80"), false, AuthorityAny, 0, 0, ""},
		{"too large", nil, true, AuthorityMatchDst, 431, 0, ReasonHeadersTooLarge},
		{"connection header", hf(":method", "CONNECT", ":authority", "10.0.0.5:80", "connection", "x"), false, AuthorityMatchDst, 0, http2.ErrCodeProtocol, ReasonMalformed},
		{"te trailers ok", hf(":method", "CONNECT", ":authority", "10.0.0.5:80", "te", "trailers"), false, AuthorityMatchDst, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validateConnect(tt.fields, tt.truncated, tt.mode, dst)
			if v.reject != (tt.reason != "") || v.status != tt.status || v.rst != tt.rst || v.reason != tt.reason {
				t.Fatalf("verdict %+v, want status %d rst %v reason %q", v, tt.status, tt.rst, tt.reason)
			}
			if !v.reject && v.header.Get("Baggage") != "" && v.header.Get("Baggage") != "k=v" {
				t.Fatalf("baggage not passed through: %v", v.header)
			}
		})
	}
}
