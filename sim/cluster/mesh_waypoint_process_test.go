package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestWaypointProcessEndpoints checks the waypoint process's own surface on
// real processes: h2c from a client pod through the waypoint, the
// readiness and Prometheus endpoints on the pod IP, /config_dump on the
// pod's localhost admin port, and the waypoint's access log.
func TestWaypointProcessEndpoints(t *testing.T) {
	ctx := context.Background()
	c, err := Up(ctx, meshConfig(t, 2), mustLoad(t, "billing.yaml", billingScenario))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wps := waypointPods(c.Model())
	if len(wps) != 1 {
		t.Fatalf("waypoint pods = %+v", wps)
	}
	wp := wps[0]
	eventuallyCurl(t, c, "allowed path", billingURL+"/headers", func(s, _ string, code int) bool { return code == 0 && s == "200" })

	t.Run("h2c prior knowledge through the waypoint", func(t *testing.T) {
		out, code := run(t, c, "clients/deploy/client", curlBin, "-sS", "--max-time", "5", "--http2-prior-knowledge",
			"-o", "/dev/null", "-w", "%{http_code} %{http_version}", billingURL+"/get")
		if code != 0 || out != "200 2" {
			t.Fatalf("h2c /get: %q exit %d, want \"200 2\"", out, code)
		}
		out, code = run(t, c, "clients/deploy/client", curlBin, "-sS", "--max-time", "5", "--http2-prior-knowledge",
			billingURL+"/ip")
		if code != 0 || !strings.Contains(out, "RBAC: access denied") {
			t.Fatalf("h2c denied path: %q exit %d", out, code)
		}
	})
	t.Run("readiness and metrics on the pod IP", func(t *testing.T) {
		base := "http://" + wp.IP.String()
		status, body, code := curlFrom(t, c, base+":15021/healthz/ready")
		if code != 0 || status != "200" {
			t.Fatalf("readiness: %q %q exit %d", status, body, code)
		}
		status, body, code = curlFrom(t, c, base+":15020/stats/prometheus")
		if code != 0 || status != "200" {
			t.Fatalf("metrics: %q exit %d", status, code)
		}
		for _, want := range []string{`istio_requests_total{`, `reporter="waypoint"`, `destination_service_name="billing-api"`,
			`source_principal="` + clientID + `"`, `response_code="403"`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("config_dump on the pod's localhost", func(t *testing.T) {
		out, code := run(t, c, "billing/deploy/waypoint", curlBin, "-sS", "--max-time", "5", "http://127.0.0.1:15000/config_dump")
		var dump struct {
			Gateway       string
			Identity      string
			ConfigVersion int
			Ready         bool
			Config        *struct {
				Services []struct{ Name string }
			}
		}
		if code != 0 || json.Unmarshal([]byte(out), &dump) != nil {
			t.Fatalf("config_dump: exit %d %q", code, out)
		}
		if dump.Gateway != "billing/waypoint" || dump.Identity != waypointID || !dump.Ready || dump.ConfigVersion < 1 ||
			dump.Config == nil || len(dump.Config.Services) != 1 || dump.Config.Services[0].Name != "billing-api" {
			t.Errorf("config_dump: %s", out)
		}
	})
	t.Run("access log", func(t *testing.T) {
		waitLog(t, c, "billing/deploy/waypoint", `src.identity="`+clientID+`"`)
	})
}
