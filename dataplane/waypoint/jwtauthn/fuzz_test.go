package jwtauthn_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn/jwttest"
)

// FuzzJWT feeds arbitrary tokens and query strings to the authenticator: it
// must never panic, and it may only accept a token whose principal belongs to
// the configured issuer, signed by its key — i.e. mutations of a valid token
// are either rejected or decode to exactly the claims the issuer signed.
func FuzzJWT(f *testing.F) {
	iss := jwttest.NewIssuer("https://issuer.example", "k1")
	a, err := jwtauthn.New(jwtauthn.Config{Now: clock, Rules: []jwtauthn.Rule{{Issuer: iss.Name, JWKS: iss.JWKS()}}})
	if err != nil {
		f.Fatal(err)
	}
	valid := iss.Sign(iss.Claims("alice", now, nil))
	f.Add(valid, "")
	f.Add("a.b.c", "access_token=x.y.z")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "")
	f.Add(valid+"x", "")
	f.Add("", "access_token="+valid)
	f.Fuzz(func(t *testing.T, tok, query string) {
		h := http.Header{}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
		res, ferr := a.Authenticate(context.Background(), h, query)
		if ferr != nil {
			if ferr.Status() != http.StatusUnauthorized || ferr.Failure.Text() == "" {
				t.Fatalf("bad failure %v", ferr)
			}
			return
		}
		if res.Principal != "" && res.Principal != iss.Name+"/alice" {
			t.Fatalf("accepted a forged principal %q from %q", res.Principal, tok)
		}
	})
}
