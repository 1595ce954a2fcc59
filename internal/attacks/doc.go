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
// The fixture every case assumes (FixturePolicies describes it in words; the
// runners build it in their own terms): DENY paths /admin, /admin/* and
// /private; DENY /internal/* unless the source IP is in 10.0.0.0/8; DENY header
// x-user=mallory; DENY cookie suffix "role=admin"; DENY
// host blocked.example.com (any port); DENY method DELETE; ALLOW the client
// principal on paths outside /anything/jwt/*; ALLOW /anything/jwt/* for request principal
// <issuer>/alice; ALLOW /anything/jwt/public for anyone; RequestAuthentication for
// <issuer> with default token locations.
//
// Standard library only (plus pathnorm's Mode): the workload binary links it.
package attacks
