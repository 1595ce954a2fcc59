// Package transport is the waypoint's HBONE edge: it terminates the CONNECT
// streams client ztunnels open to the waypoint's :15008 and originates the
// HBONE streams that carry authorized traffic on to the destination pods.
//
// Termination (Server): each CONNECT's :authority is the original
// destination (a Service VIP:port, or a pod IP:port for workload-addressed
// traffic). Its Service port's app_protocol decides the mode:
//   - HTTP/1.1, HTTP2, GRPC → L7: the stream is handed to one shared
//     net/http Server that speaks HTTP/1.1 and h2c with prior knowledge
//     (net/http detects the HTTP/2 preface itself), with waypoint.WithPeer in
//     every request's context;
//   - anything else → L4: the waypoint's policies are evaluated on L4
//     attributes (a DENY closes the stream), then bytes are relayed to an
//     endpoint over HBONE.
//
// The Peer's source IP is the TCP peer of the HBONE connection: the client
// ztunnel dials from the client pod's network namespace, so that is the
// client pod's IP. The Forwarded header is untrusted (ambient-semantics §3,
// "Header trust") and never used. The identity is the verified mTLS peer.
//
// Origination (Upstream): an http.RoundTripper whose request URL.Host is the
// chosen backend (VIP:servicePort or podIP:port). It resolves that through
// the workload API to one healthy endpoint, chosen at random (as ztunnel
// does), and opens HBONE to <pod IP>:15008 with :authority <pod IP>:<target
// port>, presenting the waypoint's own SVID and expecting the endpoint's
// SPIFFE identity. Connections are pooled per endpoint by net/http's
// Transport (keep-alive), with an h2c-prior-knowledge Transport for HTTP2 and
// GRPC ports. An endpoint whose connect failed is skipped for the request
// and avoided for a short while after.
package transport
