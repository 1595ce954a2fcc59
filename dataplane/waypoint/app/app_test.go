package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport/wptest"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

func deny(name string, m policy.Match) *policy.Policy {
	return &policy.Policy{Name: name, Namespace: "demo", Scope: policy.ScopeNamespace, Action: policy.ActionDeny,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{m}}}}}}
}

// snapshot binds httpbin and keys to the waypoint: DENY /admin, and /jwt
// needs a request principal from the issuer whose keys the keys Service
// serves (jwksUri, fetched through the mesh).
func snapshot(issuer string, extra ...*policy.Policy) *config.Snapshot {
	return snapshotWith(issuer, append([]*policy.Policy{
		deny("deny-admin", policy.Match{Paths: []policy.StringMatch{policy.Prefix("/admin")}}),
		deny("require-jwt", policy.Match{Paths: []policy.StringMatch{policy.Prefix("/jwt")},
			NotRequestPrincipals: []policy.StringMatch{policy.Presence()}}),
	}, extra...))
}

func snapshotWith(issuer string, ps []*policy.Policy) *config.Snapshot {
	rules := []jwtauthn.Rule{{Issuer: issuer, JWKSURI: "http://keys.demo.svc.cluster.local:8080/jwks.json"}}
	return &config.Snapshot{Version: config.Version, Gateway: config.GatewayRef{Namespace: "demo", Name: "waypoint"}, For: "service",
		Services: []config.Service{
			{Namespace: "demo", Name: "httpbin", Hostname: "httpbin.demo.svc.cluster.local", Addresses: []netip.Addr{httpbinVIP},
				Target: config.Target{Policies: ps, JWTRules: rules}},
			{Namespace: "demo", Name: "keys", Hostname: "keys.demo.svc.cluster.local", Addresses: []netip.Addr{keysVIP}},
		}}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, path string, hdr http.Header) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://httpbin.demo:8000"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWaypointProcess runs the whole waypoint process (app.Run) against a
// fake istiod (CA + delta ADS) with real TLS everywhere, and checks the data
// path, config handling and the admin endpoints.
func TestWaypointProcess(t *testing.T) {
	c := startCluster(t)
	sub := c.ads.Subscription(t, config.TypeURL)
	if names := sub.GetResourceNamesSubscribe(); len(names) != 1 || names[0] != "demo/waypoint" {
		t.Fatalf("config subscription names %v, want [demo/waypoint]", names)
	}
	if id := c.ads.Subscription(t, xds.TypeAddress).GetNode().GetId(); id != "waypoint~waypoint-0.demo" {
		t.Errorf("node id %q", id)
	}
	c.ads.Subscription(t, xds.TypeAuthorization)
	if r := c.ads.Push(t, xds.TypeAddress, workloadAPI(t)); r.GetErrorDetail() != nil {
		t.Fatalf("workload API NACKed: %v", r.GetErrorDetail())
	}
	c.ads.Push(t, xds.TypeAuthorization, nil)

	// Not ready until the first waypoint config arrives.
	readyURL := "http://" + c.addr("readiness") + "/healthz/ready"
	if code, body := httpGet(t, readyURL); code != 503 || !strings.Contains(body, "waypoint config demo/waypoint") {
		t.Fatalf("readiness before config: %d %q", code, body)
	}
	if r := c.ads.Push(t, config.TypeURL, configResource(t, mustMarshal(t, snapshot(c.issuer.Name)))); r.GetErrorDetail() != nil {
		t.Fatalf("config NACKed: %v", r.GetErrorDetail())
	}
	select {
	case <-c.readyCh:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReady not called")
	}
	if code, _ := httpGet(t, readyURL); code != 200 {
		t.Fatalf("readiness after config: %d", code)
	}

	h1 := c.client.HTTP("198.19.0.10:8000", false)
	defer h1.CloseIdleConnections()
	t.Run("L7 allow and deny", func(t *testing.T) {
		ok := do(t, h1, "/get", nil)
		var echo wptest.Echo
		if ok.status != 200 || json.Unmarshal([]byte(ok.body), &echo) != nil || echo.URI != "/get" {
			t.Fatalf("allowed: %d %q", ok.status, ok.body)
		}
		if id := ok.header.Get("X-Request-Id"); id == "" || echo.Header.Get("X-Request-Id") != id {
			t.Errorf("x-request-id: response %q upstream %q", id, echo.Header.Get("X-Request-Id"))
		}
		if denied := do(t, h1, "/admin", nil); denied.status != 403 || denied.body != "RBAC: access denied" {
			t.Errorf("denied: %d %q", denied.status, denied.body)
		}
		for _, s := range c.pods[podHTTPBin].Seen() {
			if s.Peer != c.mesh.ID("demo", "waypoint") || s.Authority != "127.0.0.2:80" {
				t.Errorf("destination saw %+v", s)
			}
		}
	})
	t.Run("h2c client", func(t *testing.T) {
		h2 := c.client.HTTP("198.19.0.10:8000", true)
		defer h2.CloseIdleConnections()
		if r := do(t, h2, "/get", nil); r.status != 200 {
			t.Fatalf("h2c: %d %q", r.status, r.body)
		}
		if r := do(t, h2, "/admin", nil); r.status != 403 {
			t.Fatalf("h2c denied: %d %q", r.status, r.body)
		}
	})
	t.Run("JWT with jwksUri over the mesh", func(t *testing.T) {
		if r := do(t, h1, "/jwt", nil); r.status != 403 {
			t.Errorf("no token: %d %q, want 403", r.status, r.body)
		}
		bad := http.Header{"Authorization": {"Bearer " + c.issuer.Sign(c.issuer.Claims("alice", time.Now().Add(-3*time.Hour), nil))}}
		if r := do(t, h1, "/jwt", bad); r.status != 401 {
			t.Errorf("expired token: %d %q, want 401", r.status, r.body)
		}
		good := http.Header{"Authorization": {"Bearer " + c.issuer.Sign(c.issuer.Claims("alice", time.Now(), nil))}}
		if r := do(t, h1, "/jwt", good); r.status != 200 {
			t.Errorf("valid token: %d %q, want 200", r.status, r.body)
		}
		seen := c.pods[podKeys].Seen()
		if len(seen) == 0 || seen[0].Peer != c.mesh.ID("demo", "waypoint") || seen[0].Authority != "127.0.0.3:8080" {
			t.Errorf("the key server's ztunnel saw %+v, want the waypoint's HBONE for 127.0.0.3:8080", seen)
		}
	})
	t.Run("TCP port relayed at L4", func(t *testing.T) {
		echo := func() (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := c.client.Connect(ctx, "198.19.0.10:9000")
			if err != nil {
				return "", err
			}
			defer s.Close()
			_, _ = s.Write([]byte("hello"))
			_ = s.CloseWrite()
			got, err := io.ReadAll(s)
			return string(got), err
		}
		// A DENY with HTTP-only conditions denies all TCP traffic: istiod
		// drops the HTTP fields for TCP filter chains, so the rule matches
		// more, never less.
		if got, _ := echo(); got != "" {
			t.Fatalf("tcp under an HTTP-conditioned DENY echoed %q", got)
		}
		noL7Deny := snapshotWith(c.issuer.Name, nil)
		if r := c.ads.Push(t, config.TypeURL, configResource(t, mustMarshal(t, noL7Deny))); r.GetErrorDetail() != nil {
			t.Fatal(r.GetErrorDetail())
		}
		if got, err := echo(); got != "hello" {
			t.Fatalf("tcp echo %q, %v", got, err)
		}
		if r := c.ads.Push(t, config.TypeURL, configResource(t, mustMarshal(t, snapshot(c.issuer.Name)))); r.GetErrorDetail() != nil {
			t.Fatal(r.GetErrorDetail())
		}
	})
	t.Run("unbound VIP refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.client.Connect(ctx, "198.19.0.99:8000")
		var se *hbone.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
			t.Fatalf("CONNECT to an unbound VIP: %v, want 503", err)
		}
	})
	t.Run("bad snapshots are NACKed and the previous one kept", func(t *testing.T) {
		good := mustMarshal(t, snapshot(c.issuer.Name))
		other := snapshot(c.issuer.Name)
		other.Gateway.Name = "other"
		for name, raw := range map[string][]byte{
			"unknown field":   []byte(strings.Replace(string(good), `"for":`, `"fro":"x","for":`, 1)),
			"not json":        []byte("{"),
			"another gateway": mustMarshal(t, other),
			"bad inline jwks": []byte(strings.Replace(string(good), `"JWKS":"","JWKSURI":"http://keys.demo.svc.cluster.local:8080/jwks.json"`, `"JWKS":"{\"keys\":[]}","JWKSURI":""`, 1)),
		} {
			r := c.ads.Push(t, config.TypeURL, configResource(t, raw))
			if r.GetErrorDetail() == nil {
				t.Errorf("%s: ACKed", name)
			}
		}
		if r := do(t, h1, "/admin", nil); r.status != 403 {
			t.Errorf("after rejected snapshots /admin: %d", r.status)
		}
		if r := do(t, h1, "/get", nil); r.status != 200 {
			t.Errorf("after rejected snapshots /get: %d", r.status)
		}
	})
	t.Run("config update applies live", func(t *testing.T) {
		upd := snapshot(c.issuer.Name, deny("deny-get", policy.Match{Paths: []policy.StringMatch{policy.Exact("/get")}}))
		if r := c.ads.Push(t, config.TypeURL, configResource(t, mustMarshal(t, upd))); r.GetErrorDetail() != nil {
			t.Fatalf("update NACKed: %v", r.GetErrorDetail())
		}
		if r := do(t, h1, "/get", nil); r.status != 403 {
			t.Errorf("/get after the update: %d, want 403", r.status)
		}
		code, body := httpGet(t, "http://"+c.addr("admin")+"/config_dump")
		var dump struct {
			ConfigVersion int
			Config        *config.Snapshot
			Certificate   *struct{ Identity string }
			Ready         bool
			XDS           struct{ NACKs int }
		}
		if code != 200 || json.Unmarshal([]byte(body), &dump) != nil {
			t.Fatalf("config_dump: %d %q", code, body)
		}
		if dump.ConfigVersion != 4 || dump.Config == nil || len(dump.Config.Services[0].Policies) != 3 || !dump.Ready ||
			dump.Certificate == nil || dump.Certificate.Identity != "spiffe://cluster.local/ns/demo/sa/waypoint" || dump.XDS.NACKs != 4 {
			t.Errorf("config_dump: %s", body)
		}
	})
	t.Run("metrics and access log", func(t *testing.T) {
		code, body := httpGet(t, "http://"+c.addr("metrics")+"/stats/prometheus")
		if code != 200 || !strings.Contains(body, `istio_requests_total{`) || !strings.Contains(body, `response_code="403"`) ||
			!strings.Contains(body, `reporter="waypoint"`) || !strings.Contains(body, "istio_tcp_connections_opened_total") {
			t.Errorf("metrics: %d\n%s", code, body)
		}
		waitFor(t, "access log lines", func() bool { return strings.Contains(c.accessLog.String(), "/admin") })
	})
	// SIGTERM: an in-flight request finishes within the drain grace.
	slow := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://httpbin.demo:8000/slow?delay=400ms", nil)
		resp, err := h1.Do(req)
		if err != nil {
			slow <- reply{status: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- reply{status: resp.StatusCode, body: string(b)}
	}()
	waitFor(t, "the slow request to reach the backend", func() bool { return c.backend.InFlight.Load() == 1 })
	c.stop()
	c.stop = func() {}
	if r := <-slow; r.status != 200 {
		t.Errorf("in-flight request during drain: %d %q, want 200", r.status, r.body)
	}
	h1.CloseIdleConnections()
	if _, err := http.Get("http://" + c.addr("readiness") + "/healthz/ready"); err == nil {
		t.Error("readiness still served after shutdown")
	}
}
