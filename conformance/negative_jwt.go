package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtIssuer signs the negative suite's tokens with one ES256 key; its JWKS
// goes into the fixture's RequestAuthentication. The suite is black-box, so
// it mints tokens itself rather than borrowing the waypoint's test helpers.
type jwtIssuer struct {
	name, kid string
	key       crypto.Signer
}

func newJWTIssuer(name, kid string) (*jwtIssuer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", name, err)
	}
	return &jwtIssuer{name: name, kid: kid, key: k}, nil
}

// jwks is the public key set as JSON.
func (i *jwtIssuer) jwks() string {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: i.key.Public(), KeyID: i.kid, Algorithm: string(jose.ES256), Use: "sig"}}})
	return string(b)
}

// claims are the standard claims for sub, valid around now, plus extra.
func (i *jwtIssuer) claims(sub string, now time.Time, extra map[string]any) map[string]any {
	c := map[string]any{"iss": i.name, "sub": sub, "iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func (i *jwtIssuer) sign(claims map[string]any) (string, error) {
	return signJWT(jose.ES256, i.key, i.kid, claims)
}

// signJWT signs claims with any go-jose key ([]byte for the HS256
// key-confusion token).
func signJWT(alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	return jwt.Signed(s).Claims(claims).Serialize()
}
