// Package attacks is the waypoint's negative corpus: malicious requests, each
// with a legitimate positive twin, and the outcome each must get over HTTP/1.1
// and HTTP/2 under every path normalization mode (reliability W1–W10, issue 5).
//
// One table serves two runners: the library suite (dataplane/waypoint
// negative tests, the engine behind real h1 and h2c servers) and the
// conformance spec (conformance/, the same requests sent by the per-pod probe
// through ztunnel to a deployed waypoint). Requests are rendered to exact
// bytes (rawhttp), so what one runner sends the other sends too.
//
// It lives under internal/ because both sides import it: dataplane tests may
// not import conformance/ or sim/, and the black-box conformance suite may not
// import dataplane/ (architecture.md §2.1). Modes are the meshConfig names.
//
// The fixture every case assumes (the runners build it in their own terms):
// DENY paths /admin, /admin/* and /private; DENY /internal/* unless the source
// IP is in 10.0.0.0/8; DENY header x-user=mallory; DENY cookie suffix
// "role=admin"; DENY host blocked.example.com (any port); DENY method DELETE;
// ALLOW the client principal on paths outside /anything/jwt/*; ALLOW
// /anything/jwt/* for request principal <issuer>/alice; ALLOW
// /anything/jwt/public for anyone; RequestAuthentication for <issuer> with
// the default token locations.
//
// Standard library only: the per-pod workload binary links the raw client.
package attacks
