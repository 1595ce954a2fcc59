package jwtauthn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn/jwttest"
)

// fakeJWKS serves a settable document or error and counts fetches.
type fakeJWKS struct {
	mu    sync.Mutex
	doc   string
	err   error
	calls int
}

func (f *fakeJWKS) set(doc string, err error) { f.mu.Lock(); f.doc, f.err = doc, err; f.mu.Unlock() }

func (f *fakeJWKS) FetchJWKS(context.Context, string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return []byte(f.doc), f.err
}

// W13: fail closed when the JWKS is down at start or after the TTL, never a
// default key; cache until TTL only; a new kid is picked up by a refetch.
func TestRemoteJWKS(t *testing.T) {
	iss := jwttest.NewIssuer("https://remote.example", "r1")
	t0 := now
	cur := t0
	fake := &fakeJWKS{}
	fake.set("", errors.New("connection refused"))
	keys, err := jwtauthn.NewKeyCache(jwtauthn.KeyCacheConfig{Fetcher: fake, TTL: 10 * time.Minute, MinRefresh: time.Minute, Now: func() time.Time { return cur }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := jwtauthn.New(jwtauthn.Config{Keys: keys, Now: func() time.Time { return cur },
		Rules: []jwtauthn.Rule{{Issuer: iss.Name, JWKSURI: "http://jwks.sim/keys"}}})
	if err != nil {
		t.Fatal(err)
	}
	try := func(tok string) jwtauthn.Failure {
		t.Helper()
		_, ferr := a.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + tok}}, "")
		if ferr == nil {
			return 0
		}
		return ferr.Failure
	}
	sign := func(i *jwttest.Issuer) string { return i.Sign(i.Claims("alice", cur, nil)) }

	if f := try(sign(iss)); f != jwtauthn.FailureJWKSUnavailable {
		t.Fatalf("down at start: %v", f)
	}
	fake.set(`{"keys":[]}`, nil)
	if f := try(sign(iss)); f != jwtauthn.FailureJWKSUnavailable {
		t.Fatalf("empty jwks: %v", f)
	}
	fake.set("not json", nil)
	if f := try(sign(iss)); f != jwtauthn.FailureJWKSUnavailable {
		t.Fatalf("garbage jwks: %v", f)
	}
	fake.set(iss.JWKS(), nil)
	if f := try(sign(iss)); f != 0 {
		t.Fatalf("up: %v", f)
	}
	calls := fake.calls
	fake.set("", errors.New("down again"))
	cur = t0.Add(5 * time.Minute)
	if f := try(sign(iss)); f != 0 || fake.calls != calls {
		t.Fatalf("within TTL: %v, %d fetches", f, fake.calls-calls)
	}
	cur = t0.Add(11 * time.Minute)
	if f := try(sign(iss)); f != jwtauthn.FailureJWKSUnavailable {
		t.Fatalf("after TTL with the server down: %v", f)
	}

	// Rotation: a token with a new kid triggers one refetch.
	fake.set(iss.JWKS(), nil)
	if f := try(sign(iss)); f != 0 {
		t.Fatalf("recovered: %v", f)
	}
	rotated := &jwttest.Issuer{Name: iss.Name, KID: "r2", Key: jwttest.NewIssuer("", "").Key, Alg: iss.Alg}
	fake.set(rotated.JWKS(), nil)
	cur = cur.Add(2 * time.Minute)
	if f := try(sign(rotated)); f != 0 {
		t.Fatalf("rotated kid: %v", f)
	}
	calls = fake.calls
	if f := try(sign(jwttest.NewIssuer(iss.Name, "r3"))); f != jwtauthn.FailureKeyNotFound || fake.calls != calls {
		t.Fatalf("unknown kid within MinRefresh: %v, %d fetches", f, fake.calls-calls)
	}
}

func TestParseJWKS(t *testing.T) {
	priv := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`
	set, err := jwtauthn.ParseJWKS([]byte(priv))
	if err != nil || len(set.Keys) != 1 || !set.Keys[0].IsPublic() {
		t.Fatalf("private key not reduced to public: %v %v", set, err)
	}
	enc := `{"keys":[{"kty":"EC","use":"enc","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	if _, err := jwtauthn.ParseJWKS([]byte(enc)); err == nil {
		t.Error("encryption-only key set accepted")
	}
	if _, err := jwtauthn.ParseJWKS(make([]byte, jwtauthn.MaxJWKSBytes+1)); err == nil {
		t.Error("oversized JWKS accepted")
	}
}

func TestAllowedJWKSAddress(t *testing.T) {
	for addr, want := range map[string]bool{
		"198.18.0.7": true, "10.0.0.1": true, "127.0.0.1": false, "169.254.169.254": false,
		"::1": false, "fe80::1": false, "0.0.0.0": false, "224.0.0.1": false,
	} {
		if got := jwtauthn.AllowedJWKSAddress(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %v", addr, got)
		}
	}
}

func TestHTTPFetcherRefusesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer srv.Close()
	_, err := jwtauthn.NewHTTPFetcher(time.Second).FetchJWKS(context.Background(), srv.URL)
	if !errors.Is(err, jwtauthn.ErrForbiddenAddress) {
		t.Fatalf("loopback jwksUri: %v", err)
	}
}
