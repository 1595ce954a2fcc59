// Package waypoint is the reference waypoint's L7 request engine: an
// http.Handler that validates a request strictly, strips what clients may not
// set, authenticates its JWT, authorizes it with the shared policy engine
// (dataplane/policy.Evaluate) and forwards exactly the request it authorized.
//
// The pipeline is a chain of filters in the coredns plugin style
// (architecture.md: Handler{Serve…; Name()}, func(Handler) Handler):
//
//	validate → strip internal headers → jwt authn → authz → router → forward
//
// Every filter either calls the next one or returns a *Reject; only the
// Waypoint writes rejections, so status codes and bodies are uniform:
// 400 malformed, 401 `Jwt …` (Envoy's texts), 403 `RBAC: access denied`,
// 503 upstream failure (ambient-semantics §6, §8; reliability §2 oracle).
//
// The router (router.go) runs after authorization, as Envoy's router and
// fault filters follow RBAC in Istio's waypoint chain: it applies the
// Service's route.Table (HTTPRoute / VirtualService) and the forwarder
// (forward.go) sends to the chosen backend VIP:port with the route's
// timeouts and retries.
//
// The path is normalized once (pathnorm.Normalize) and that single result is
// matched and forwarded (W1). Authorization never reads the body, so a denied
// request's body is never read (W8). The source identity and IP come from the
// HBONE connection (Peer), never from headers (W9, Z5).
//
// Deployment (Gateway istio-waypoint), HBONE termination and origination,
// ztunnel → waypoint routing and telemetry live in sibling packages.
package waypoint
