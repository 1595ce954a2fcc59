package jwtauthn_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
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

// FuzzTokenPlacement fuzzes where tokens appear (Authorization values, one per
// line of auth, and the query) around a valid token. Properties (W10,
// reliability §4 divergence): two or more occurrences in the default
// locations are ambiguous → 401 whatever they hold; none → no principal and
// no error; exactly one → accepted only if it is the issuer's signed token,
// and then the result carries exactly the signed claims.
func FuzzTokenPlacement(f *testing.F) {
	iss := jwttest.NewIssuer("https://issuer.example", "k1")
	a, err := jwtauthn.New(jwtauthn.Config{Now: clock, Rules: []jwtauthn.Rule{{Issuer: iss.Name, JWKS: iss.JWKS()}}})
	if err != nil {
		f.Fatal(err)
	}
	valid := iss.Sign(iss.Claims("alice", now, nil))
	f.Add("Bearer $T", "")
	f.Add("", "access_token=$T")
	f.Add("Bearer $T\nBearer $T", "")
	f.Add("bearer   $T  ", "x=1")
	f.Add("Basic dXNlcjpwYXNz\nBearer $T", "")
	f.Add("Bearer $T", "access_token=$T&access_token=")
	f.Add("Bearer", "access_token=%zz&access_token=$T")
	f.Add("Bearer $T", "a=1;access_token=$T")
	f.Fuzz(func(t *testing.T, auth, query string) {
		if len(auth) > 1<<14 || len(query) > 1<<14 {
			return
		}
		auth = strings.ReplaceAll(auth, "$T", valid)
		query = strings.ReplaceAll(query, "$T", valid)
		h := http.Header{}
		var occurrences []string
		for _, v := range strings.Split(auth, "\n") {
			if auth == "" {
				break
			}
			h.Add("Authorization", v)
			if len(v) >= 7 && strings.EqualFold(v[:7], "Bearer ") {
				occurrences = append(occurrences, strings.TrimSpace(v[7:]))
			}
		}
		q, _ := url.ParseQuery(query)
		occurrences = append(occurrences, q["access_token"]...)
		res, ferr := a.Authenticate(context.Background(), h, query)
		switch {
		case len(occurrences) >= 2:
			if ferr == nil || ferr.Status() != http.StatusUnauthorized {
				t.Fatalf("%d token occurrences accepted: %+v", len(occurrences), res)
			}
		case len(occurrences) == 0:
			if ferr != nil || res.Principal != "" {
				t.Fatalf("no token: %+v %v", res, ferr)
			}
		case ferr == nil:
			if res.Principal != iss.Name+"/alice" || res.Subject != "alice" || res.Issuer != iss.Name || res.Claims["sub"] != "alice" {
				t.Fatalf("accepted %q as %+v", occurrences[0], res)
			}
		case ferr.Status() != http.StatusUnauthorized:
			t.Fatalf("status %d", ferr.Status())
		case occurrences[0] == valid:
			t.Fatalf("the valid token was refused: %v", ferr)
		}
	})
}
