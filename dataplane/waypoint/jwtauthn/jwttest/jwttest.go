// Package jwttest issues real signed tokens for tests: an issuer with its own
// key, its JWKS, and a Sign that never needs a fixture file.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs tokens with one ES256 key.
type Issuer struct {
	Name string
	KID  string
	Key  crypto.Signer
	Alg  jose.SignatureAlgorithm
}

// NewIssuer creates an issuer with a fresh P-256 key.
func NewIssuer(name, kid string) *Issuer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Issuer{Name: name, KID: kid, Key: k, Alg: jose.ES256}
}

// JWKS is the issuer's public key set, as JSON.
func (i *Issuer) JWKS() string {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: i.Key.Public(), KeyID: i.KID, Algorithm: string(i.Alg), Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Claims returns the standard claims for sub, valid around now.
func (i *Issuer) Claims(sub string, now time.Time, extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": i.Name, "sub": sub,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// Sign serializes claims as a compact JWS with the issuer's key and kid.
func (i *Issuer) Sign(claims map[string]any) string {
	return SignWith(i.Alg, i.Key, i.KID, claims)
}

// SignWith signs with any go-jose key (e.g. []byte for HS256 confusion tests).
func SignWith(alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		panic(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		panic(err)
	}
	return tok
}
