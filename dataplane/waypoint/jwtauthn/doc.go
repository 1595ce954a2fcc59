// Package jwtauthn is the waypoint's RequestAuthentication filter: the subset of
// Envoy's jwt_authn that istiod configures for a RequestAuthentication
// (istio `pilot/pkg/security/authn/policy_applier.go`), with go-jose v4 and an
// explicit algorithm allow-list (RFC 8725).
//
// Semantics (ambient-semantics §8, reliability W10, W11, W13):
//   - no token → no request principal; whether that is enough is the
//     AuthorizationPolicy's business (requestPrincipals → 403);
//   - a token that is malformed, badly signed, expired, not yet valid, for the
//     wrong audience or from an issuer no rule configures → 401;
//   - more than one token (two locations, or a repeated header) → 401: the API
//     leaves it undefined (request_authentication.proto), we refuse to pick;
//   - JWKS unavailable → 401 for that issuer, never a fallback key (B8).
package jwtauthn
