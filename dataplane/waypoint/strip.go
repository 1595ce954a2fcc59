package waypoint

import (
	"context"
	"net/http"
	"net/textproto"
	"strings"
)

// hopByHop are connection-specific headers (RFC 9110 §7.6.1) plus the ones
// Go's reverse proxy also drops; never forwarded.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// internalPrefixes are headers only the mesh may set: Envoy's and Istio's
// internal headers and ours. A client-supplied copy is removed before any
// filter reads the headers (CVE-2023-27487, reliability W9).
var internalPrefixes = []string{"X-Envoy-", "X-Istio-", "X-Ambientlab-"}

// internalHeaders are removed and, where the mesh has a value, re-set at
// forwarding from the Peer (never from the client).
var internalHeaders = []string{"X-Forwarded-Client-Cert", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}

func stripFilter() Filter {
	return func(next Handler) Handler {
		return handlerFunc{name: "strip", fn: func(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
			stripHeaders(ex.Header)
			return next.ServeL7(ctx, w, ex)
		}}
	}
}

func stripHeaders(h http.Header) {
	for _, c := range h.Values("Connection") {
		for _, name := range strings.Split(c, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
	for _, name := range internalHeaders {
		h.Del(name)
	}
	for name := range h {
		for _, p := range internalPrefixes {
			if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
				delete(h, name)
			}
		}
	}
	h.Del("Host")
}
