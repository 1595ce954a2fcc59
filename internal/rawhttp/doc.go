// Package rawhttp sends HTTP requests exactly as written — malformed framing,
// forbidden HTTP/2 headers, control bytes — and reports what came back on the
// wire: the response statuses, or the stream reset, GOAWAY or close that
// refused the request. Well-behaved clients (net/http, x/net/http2) refuse to
// send most attacks, so the negative suite and the per-pod probe use this.
//
// It is standard library only: the per-pod workload binary links it
// (internal/archtest). The HTTP/2 side is deliberately minimal: it encodes
// header fields as HPACK literals without indexing or Huffman (so any bytes go
// out verbatim) and decodes only the response's :status.
package rawhttp
