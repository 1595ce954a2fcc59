// Package app composes one waypoint process (`ambientlab waypoint`, the
// program of each pod of a waypoint Gateway's Deployment) out of the
// reference data-plane libraries:
//
//	pod-bound bootstrap credential → identity.CAClient + Manager (the
//	waypoint's own SVID, spiffe://<td>/ns/<ns>/sa/<gateway>)
//	→ xds.ADSClient: workload API Addresses plus the waypoint's own
//	  config.TypeURL resource "<ns>/<gateway>" (Store: strict decode,
//	  authenticators and routes compiled per version; a bad snapshot is
//	  NACKed and the previous one kept)
//	→ waypoint.Waypoint (validate, strip, jwt authn, rbac, router, forward)
//	  wrapped by waypoint/telemetry
//	→ transport.Server on :15008 (HBONE termination) and transport.Upstream
//	  (HBONE origination as the waypoint's identity)
//	→ admin :15000 (/config_dump), metrics :15020 (/metrics,
//	  /stats/prometheus), readiness :15021 (/healthz/ready: certificate and
//	  first config present).
//
// jwksUri: a RequestAuthentication's key set URI is fetched by the waypoint
// itself (istiod does not inline it here). An http:// URI whose host is a
// mesh Service (its VIP, or its name, name.ns, name.ns.svc or FQDN as the
// workload API knows it) or a mesh pod IP is fetched over the waypoint's own
// HBONE transport, as the waypoint's identity — the waypoint's netns is not
// captured, so a plain dial would arrive at the key server as an
// unauthenticated plaintext client and fail under STRICT mTLS. Any other
// URI goes through jwtauthn.NewHTTPFetcher (plain net/http with its SSRF
// guard). Both paths bound size, time and refuse redirects.
//
// On context cancellation (SIGTERM) readiness turns 503, the HBONE listener
// sends GOAWAY and in-flight requests get Config.DrainGrace to finish.
package app
