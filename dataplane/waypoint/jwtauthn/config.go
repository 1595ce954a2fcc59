package jwtauthn

import (
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Rule is one jwtRules entry of a RequestAuthentication (istio.io/api
// security/v1 JWTRule), already selected for this waypoint.
type Rule struct {
	Issuer    string
	Audiences []string
	// JWKS is an inline key set (JSON). Exactly one of JWKS and JWKSURI is set.
	JWKS    string
	JWKSURI string
	// FromHeaders and FromParams are the token locations. When both are empty,
	// Envoy's defaults apply: "Authorization: Bearer <token>", then the
	// access_token query parameter.
	FromHeaders []HeaderLocation
	FromParams  []string
	// ForwardOriginalToken keeps the token header for the upstream; by default
	// it is removed, as Istio's forwardOriginalToken: false does.
	ForwardOriginalToken  bool
	OutputPayloadToHeader string
	OutputClaimToHeaders  []ClaimToHeader
}

// HeaderLocation is a header carrying the token after an optional prefix
// (e.g. "Bearer ").
type HeaderLocation struct {
	Name   string
	Prefix string
}

// ClaimToHeader copies a claim of the validated token into a request header.
type ClaimToHeader struct {
	Header string
	Claim  string
}

// Defaults, each with its upstream reference.
const (
	// DefaultClockSkew is Envoy's jwt_authn clock_skew_seconds default (60 s).
	DefaultClockSkew = 60 * time.Second
	// DefaultMaxTokenBytes bounds what we hand to the parser (RFC 8725 §3.1
	// "pathological tokens"; golang-jwt CVE-2025-30204 was a parser allocation).
	DefaultMaxTokenBytes = 8 << 10
	// DefaultAccessTokenParam is Envoy's default query parameter.
	DefaultAccessTokenParam = "access_token"
)

// DefaultAlgorithms is the asymmetric allow-list: RSA PKCS#1, RSA-PSS, ECDSA
// and EdDSA. HS* is absent on purpose — with a JWKS of public keys it is the
// classic key-confusion attack — and "none" is never a JWS algorithm in
// go-jose.
var DefaultAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Config builds an Authenticator.
type Config struct {
	Rules []Rule
	// Keys resolves jwksUri rules; required when any rule has JWKSURI.
	Keys *KeyCache
	// Algorithms overrides DefaultAlgorithms.
	Algorithms []jose.SignatureAlgorithm
	// ClockSkew tolerates exp/nbf drift; 0 means DefaultClockSkew.
	ClockSkew time.Duration
	// MaxTokenBytes; 0 means DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}
