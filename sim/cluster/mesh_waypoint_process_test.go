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

// workloadWaypointScenario: a waypoint for workloads (istio.io/waypoint-for:
// workload) used by every pod of namespace wl; its Gateway-level policy
// denies /ip.
const workloadWaypointScenario = `apiVersion: v1
kind: Namespace
metadata:
  name: wl
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: v1
kind: Namespace
metadata: {name: clients, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: server, namespace: wl}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: clients}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: server, namespace: wl}
spec:
  replicas: 1
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec:
      serviceAccountName: server
      containers:
      - name: api
        image: docker.io/kennethreitz/httpbin
        ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: wl}
spec:
  selector: {app: server}
  ports: [{name: http, port: 8000, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: clients}
spec:
  replicas: 1
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      serviceAccountName: client
      containers: [{name: curl, image: curlimages/curl, command: [/bin/sleep, infinity]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: wl
  labels: {istio.io/waypoint-for: workload}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ip, namespace: wl}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: [/ip]}}]}]
`

// TestWorkloadWaypoint: pod-addressed traffic to a pod with a workload
// waypoint goes through it (the waypoint serves the pod IP:port authority
// with its Gateway-level policies).
func TestWorkloadWaypoint(t *testing.T) {
	ctx := context.Background()
	c, err := Up(ctx, meshConfig(t, 2), mustLoad(t, "wl.yaml", workloadWaypointScenario))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server, err := ResolveTarget(c.Model(), "wl/deploy/server")
	if err != nil {
		t.Fatal(err)
	}
	podURL := "http://" + server.IP.String() + ":80"
	_, body := eventuallyCurl(t, c, "pod IP through the workload waypoint", podURL+"/headers",
		func(s, body string, code int) bool {
			return code == 0 && s == "200" && strings.Contains(strings.ToLower(body), "x-request-id")
		})
	if !strings.Contains(body, "spiffe://cluster.local/ns/clients/sa/client") {
		t.Errorf("the backend did not get the client identity from the waypoint (X-Forwarded-Client-Cert): %s", body)
	}
	status, body, code := curlFrom(t, c, podURL+"/ip")
	if code != 0 || status != "403" || !strings.Contains(body, "RBAC: access denied") {
		t.Fatalf("denied path on the pod IP: status %q exit %d body %q", status, code, body)
	}
	// The backend's peer is the waypoint pod (it originated the connection).
	wps := waypointPods(c.Model())
	if len(wps) != 1 {
		t.Fatalf("waypoint pods = %+v", wps)
	}
	status, body, code = curlFrom(t, c, podURL+"/get")
	if code != 0 || status != "200" || !strings.Contains(body, `"origin": "`+wps[0].IP.String()) {
		t.Errorf("/get on the pod IP: status %q exit %d, want origin %s: %s", status, code, wps[0].IP, body)
	}
}
