package jwtauthn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn/jwttest"
)

var now = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

type fixture struct {
	iss, other, stranger *jwttest.Issuer
	authn                *jwtauthn.Authenticator
}

func newFixture(t *testing.T, mutate func(*jwtauthn.Rule)) *fixture {
	t.Helper()
	f := &fixture{
		iss:      jwttest.NewIssuer("https://issuer.example", "k1"),
		other:    jwttest.NewIssuer("https://other.example", "o1"),
		stranger: jwttest.NewIssuer("https://stranger.example", "s1"),
	}
	r := jwtauthn.Rule{Issuer: f.iss.Name, JWKS: f.iss.JWKS(), Audiences: []string{"httpbin"}}
	if mutate != nil {
		mutate(&r)
	}
	a, err := jwtauthn.New(jwtauthn.Config{Now: clock, Rules: []jwtauthn.Rule{
		r,
		{Issuer: f.other.Name, JWKS: f.other.JWKS(), FromHeaders: []jwtauthn.HeaderLocation{{Name: "x-other-token"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.authn = a
	return f
}

func (f *fixture) good(extra map[string]any) map[string]any {
	c := f.iss.Claims("alice", now, map[string]any{"aud": "httpbin"})
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, nil)
	pub, _ := x509.MarshalPKIXPublicKey(f.iss.Key.(*ecdsa.PrivateKey).Public())
	unix := func(d time.Duration) int64 { return now.Add(d).Unix() }
	forged := jwttest.NewIssuer(f.iss.Name, f.iss.KID) // same iss and kid, different key
	cases := []struct {
		name      string
		header    http.Header
		query     string
		want      jwtauthn.Failure // 0 = success
		principal string
	}{
		{"no token", http.Header{}, "", 0, ""},
		{"basic auth is not a token", http.Header{"Authorization": {"Basic YTpi"}}, "", 0, ""},
		{"valid", bearer(f.iss.Sign(f.good(nil))), "", 0, "https://issuer.example/alice"},
		{"valid, lower-case scheme", http.Header{"Authorization": {"bearer " + f.iss.Sign(f.good(nil))}}, "", 0, "https://issuer.example/alice"},
		{"valid in access_token param", http.Header{}, "access_token=" + f.iss.Sign(f.good(nil)), 0, "https://issuer.example/alice"},
		{"aud list contains allowed", bearer(f.iss.Sign(f.good(map[string]any{"aud": []string{"x", "httpbin"}}))), "", 0, "https://issuer.example/alice"},
		{"expired within skew", bearer(f.iss.Sign(f.good(map[string]any{"exp": unix(-30 * time.Second)}))), "", 0, "https://issuer.example/alice"},
		{"expired", bearer(f.iss.Sign(f.good(map[string]any{"exp": unix(-2 * time.Minute)}))), "", jwtauthn.FailureExpired, ""},
		{"not yet valid", bearer(f.iss.Sign(f.good(map[string]any{"nbf": unix(5 * time.Minute)}))), "", jwtauthn.FailureNotYetValid, ""},
		{"wrong audience", bearer(f.iss.Sign(f.good(map[string]any{"aud": "other"}))), "", jwtauthn.FailureAudience, ""},
		{"no audience", bearer(f.iss.Sign(f.iss.Claims("alice", now, nil))), "", jwtauthn.FailureAudience, ""},
		{"unknown issuer", bearer(f.stranger.Sign(f.stranger.Claims("alice", now, nil))), "", jwtauthn.FailureIssuerNotConfigured, ""},
		{"issuer at a location it does not use", bearer(f.other.Sign(f.other.Claims("bob", now, nil))), "", jwtauthn.FailureIssuerNotConfigured, ""},
		{"other issuer at its own header", http.Header{"X-Other-Token": {f.other.Sign(f.other.Claims("bob", now, nil))}}, "", 0, "https://other.example/bob"},
		{"forged key, same kid", bearer(forged.Sign(f.good(nil))), "", jwtauthn.FailureSignature, ""},
		{"unknown kid", bearer(jwttest.SignWith(jose.ES256, f.iss.Key, "k9", f.good(nil))), "", jwtauthn.FailureKeyNotFound, ""},
		{"no kid tries all keys", bearer(jwttest.SignWith(jose.ES256, f.iss.Key, "", f.good(nil))), "", 0, "https://issuer.example/alice"},
		{"HS256 with the public key as secret", bearer(jwttest.SignWith(jose.HS256, pub, "k1", f.good(nil))), "", jwtauthn.FailureSignature, ""},
		{"alg none", bearer(noneToken(f.good(nil))), "", jwtauthn.FailureSignature, ""},
		{"ES384 header on a P-256 key", bearer(swapAlg(f.iss.Sign(f.good(nil)), "ES384")), "", jwtauthn.FailureKeyNotFound, ""},
		{"tampered payload", bearer(tamper(f.iss.Sign(f.good(nil)))), "", jwtauthn.FailureSignature, ""},
		{"two dots missing", bearer("abc.def"), "", jwtauthn.FailureMalformed, ""},
		{"garbage", bearer("a.b.c"), "", jwtauthn.FailureSignature, ""},
		{"too large", bearer(f.iss.Sign(f.good(map[string]any{"pad": strings.Repeat("x", 9000)}))), "", jwtauthn.FailureTooLarge, ""},
		{"header and param", bearer(f.iss.Sign(f.good(nil))), "access_token=" + f.iss.Sign(f.good(nil)), jwtauthn.FailureMultipleTokens, ""},
		{"two Authorization headers", http.Header{"Authorization": {"Bearer " + f.iss.Sign(f.good(nil)), "Bearer " + f.iss.Sign(f.good(nil))}}, "", jwtauthn.FailureMultipleTokens, ""},
		{"two params", http.Header{}, "access_token=a.b.c&access_token=d.e.f", jwtauthn.FailureMultipleTokens, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := f.authn.Authenticate(context.Background(), c.header.Clone(), c.query)
			switch {
			case c.want == 0 && err != nil:
				t.Fatalf("unexpected failure %v", err)
			case c.want != 0 && (err == nil || err.Failure != c.want):
				t.Fatalf("got %v, %+v; want %v", err, res, c.want)
			case c.want != 0 && err.Status() != http.StatusUnauthorized:
				t.Fatalf("status %d", err.Status())
			}
			if res.Principal != c.principal {
				t.Fatalf("principal %q; want %q", res.Principal, c.principal)
			}
		})
	}
}

func TestOutputsAndForwarding(t *testing.T) {
	f := newFixture(t, func(r *jwtauthn.Rule) {
		r.OutputPayloadToHeader = "x-jwt-payload"
		r.OutputClaimToHeaders = []jwtauthn.ClaimToHeader{{Header: "x-jwt-sub", Claim: "sub"}, {Header: "x-jwt-admin", Claim: "admin"}, {Header: "x-jwt-evil", Claim: "evil"}}
	})
	tok := f.iss.Sign(f.good(map[string]any{"admin": true, "evil": "a\r\nx-injected: 1", "groups": []string{"dev"}}))
	h := bearer(tok)
	h.Set("x-jwt-sub", "mallory") // client-forged output header
	res, err := f.authn.Authenticate(context.Background(), h, "")
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Authorization") != "" {
		t.Error("token forwarded without forwardOriginalToken")
	}
	if h.Get("x-jwt-sub") != "alice" || h.Get("x-jwt-admin") != "true" || h.Get("x-jwt-evil") != "" {
		t.Errorf("claim headers: %v", h)
	}
	payload, derr := base64.RawURLEncoding.DecodeString(h.Get("x-jwt-payload"))
	if derr != nil || !strings.Contains(string(payload), `"sub":"alice"`) {
		t.Errorf("payload header %q: %v", payload, derr)
	}
	if res.Claims["groups"] == nil || res.Audiences[0] != "httpbin" {
		t.Errorf("claims %v", res)
	}

	// Without a token the forged output header is still removed.
	h = http.Header{"X-Jwt-Sub": {"mallory"}, "X-Jwt-Payload": {"e30"}}
	if _, err := f.authn.Authenticate(context.Background(), h, ""); err != nil || len(h) != 0 {
		t.Errorf("forged output headers survived: %v %v", h, err)
	}

	keep := newFixture(t, func(r *jwtauthn.Rule) { r.ForwardOriginalToken = true })
	h = bearer(keep.iss.Sign(keep.good(nil)))
	if _, err := keep.authn.Authenticate(context.Background(), h, ""); err != nil || h.Get("Authorization") == "" {
		t.Errorf("forwardOriginalToken: %v %v", h, err)
	}
}

func TestCustomLocations(t *testing.T) {
	f := newFixture(t, func(r *jwtauthn.Rule) {
		r.FromHeaders = []jwtauthn.HeaderLocation{{Name: "x-jwt", Prefix: "Token "}}
		r.FromParams = []string{"jwt"}
	})
	tok := f.iss.Sign(f.good(nil))
	for name, c := range map[string]struct {
		h     http.Header
		q     string
		fails bool
		who   string
	}{
		"custom header":           {h: http.Header{"X-Jwt": {"Token " + tok}}, who: "https://issuer.example/alice"},
		"custom header no prefix": {h: http.Header{"X-Jwt": {tok}}},
		"custom param":            {h: http.Header{}, q: "jwt=" + tok, who: "https://issuer.example/alice"},
		"default location unused": {h: bearer(tok)}, // not extracted: no principal, so requestPrincipals policies deny (403)
	} {
		res, err := f.authn.Authenticate(context.Background(), c.h, c.q)
		if (err != nil) != c.fails || res.Principal != c.who {
			t.Errorf("%s: %+v %v", name, res, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, r := range map[string]jwtauthn.Rule{
		"no issuer":       {JWKS: `{"keys":[]}`},
		"empty jwks":      {Issuer: "i", JWKS: `{"keys":[]}`},
		"symmetric only":  {Issuer: "i", JWKS: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`},
		"both":            {Issuer: "i", JWKS: jwttest.NewIssuer("i", "k").JWKS(), JWKSURI: "http://x"},
		"uri, no fetcher": {Issuer: "i", JWKSURI: "http://x"},
	} {
		if _, err := jwtauthn.New(jwtauthn.Config{Rules: []jwtauthn.Rule{r}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func noneToken(claims map[string]any) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(`{"iss":"https://issuer.example","sub":"alice","aud":"httpbin"}`)) + "."
}

func swapAlg(tok, alg string) string {
	parts := strings.Split(tok, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","kid":"k1","typ":"JWT"}`))
	return strings.Join(parts, ".")
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://issuer.example","sub":"admin","aud":"httpbin"}`))
	return strings.Join(parts, ".")
}
