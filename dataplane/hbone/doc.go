// Package hbone is the HBONE wire protocol: HTTP/2 CONNECT tunnels over mTLS
// (TLS 1.3, ALPN h2, no SNI), as spoken by ztunnel on port 15008.
//
// It provides a client [Dialer] with a connection pool keyed by [PoolKey], a
// [Server] that validates CONNECT requests on the wire and hands each stream
// to a handler, the [Stream] type (a net.Conn with half-close), and [Copy], a
// bidirectional copy with half-close propagation.
//
// It is wire only: no policy, no workload state, no certificate management.
// Callers supply tls.Configs (the package enforces TLS 1.3 and ALPN h2 on top
// of them) and decide in their handler whether a stream is accepted.
//
// The HTTP/2 layer is purpose-built on golang.org/x/net/http2's Framer and
// hpack for the subset HBONE uses (CONNECT streams, DATA, flow control,
// SETTINGS, PING, GOAWAY, RST_STREAM). One reader goroutine per connection
// demultiplexes frames straight into each stream's receive queue, and writers
// encode frames into the TLS connection under a mutex, so a byte crosses at
// most one goroutine hand-off per side (see perf-method.md §3).
package hbone
