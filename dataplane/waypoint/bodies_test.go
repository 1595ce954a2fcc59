package waypoint_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
)

// The oracle texts (ambient-semantics §6, §8): 403 "RBAC: access denied",
// 401 with Envoy's jwt_authn text; every response carries x-request-id.
func TestRejectionBodies(t *testing.T) {
	f := newFixture(t, pathnorm.ModeBase)
	expired := f.token("alice", map[string]any{"exp": testNow.Add(-time.Hour).Unix()})
	cases := []struct {
		target, auth string
		code         int
		body         string
	}{
		{"/admin", "", 403, "RBAC: access denied"},
		{"/anything/jwt/data", "Bearer " + expired, 401, "Jwt is expired"},
		{"/anything/jwt/data", "Bearer " + f.token("alice", nil), 200, "ok"},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", f.srv.URL+c.target, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		resp, err := f.srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || string(b) != c.body || resp.Header.Get("X-Request-Id") != "rid-1" {
			t.Errorf("%s: %d %q %v", c.target, resp.StatusCode, b, resp.Header)
		}
	}
	f.upstream.take()
}

func TestNoPeerFailsClosed(t *testing.T) {
	up := &recorder{}
	wp, err := waypoint.New(waypoint.Config{Normalization: pathnorm.ModeBase, Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	wp.ServeHTTP(rec, httptest.NewRequest("GET", "/get", nil))
	if rec.Code != http.StatusInternalServerError || len(up.take()) != 0 {
		t.Fatalf("no peer: %d", rec.Code)
	}
	if _, err := waypoint.New(waypoint.Config{Upstream: up}); err == nil {
		t.Error("zero normalization mode accepted")
	}
}
