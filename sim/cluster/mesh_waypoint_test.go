package cluster

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/sim/topology"
)

const (
	billingURL   = "http://billing-api.billing:8000"
	waypointID   = "spiffe://cluster.local/ns/billing/sa/waypoint"
	billingAPIID = "spiffe://cluster.local/ns/billing/sa/billing-api"
	clientID     = "spiffe://cluster.local/ns/clients/sa/client"
)

// billingScenario: the billing API behind a service waypoint that allows
// GET /headers and /get only (targetRefs the Gateway).
const billingScenario = `apiVersion: v1
kind: Namespace
metadata:
  name: billing
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: v1
kind: Namespace
metadata: {name: clients, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: billing-api, namespace: billing}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: clients}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: billing-api, namespace: billing}
spec:
  replicas: 1
  selector: {matchLabels: {app: billing-api}}
  template:
    metadata: {labels: {app: billing-api}}
    spec:
      serviceAccountName: billing-api
      containers:
      - name: api
        image: docker.io/kennethreitz/httpbin
        ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: billing-api, namespace: billing}
spec:
  selector: {app: billing-api}
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
metadata: {name: waypoint, namespace: billing}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: billing-paths, namespace: billing}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET], paths: [/headers, /get]}}]}]
`

// onlyWaypointPolicy is the L4 guard that closes the pod-IP bypass.
const onlyWaypointPolicy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-waypoint, namespace: billing}
spec:
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/billing/sa/waypoint]}}]}]
`

// curlFrom runs curl in the client pod and returns "<status>\n<body>" and
// curl's exit code (0 with any HTTP status).
func curlFrom(t *testing.T, c *Cluster, url string) (status, body string, code int) {
	t.Helper()
	out, code := run(t, c, "clients/deploy/client", curlBin, "-sS", "--max-time", "5", "-w", "\n%{http_code}", url)
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return "", out, code
	}
	return out[i+1:], out[:i], code
}

// eventuallyCurl polls until check accepts the answer (config reaches the
// data plane over xDS asynchronously after Apply returns).
func eventuallyCurl(t *testing.T, c *Cluster, what, url string, check func(status, body string, code int) bool) (string, string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body, code := curlFrom(t, c, url)
		if check(status, body, code) {
			return status, body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s gave status %q exit %d body %q", what, url, status, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waypointPods(m *topology.Cluster) []topology.Pod {
	var out []topology.Pod
	for _, p := range m.Pods {
		if topology.IsWaypointPod(p) {
			out = append(out, p)
		}
	}
	return out
}

// TestWaypointEndToEnd is the waypoint acceptance on real processes: L7
// policy at the waypoint (200 / 403 RBAC), the waypoint's identity at the
// destination ztunnel, the documented pod-IP bypass and its L4 guard, and
// a waypoint deleted at run time.
func TestWaypointEndToEnd(t *testing.T) {
	cfg := meshConfig(t, 2)
	ctx := context.Background()
	c, err := Up(ctx, cfg, mustLoad(t, "billing.yaml", billingScenario))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wps := waypointPods(c.Model())
	if len(wps) != 1 || !wps[0].System {
		t.Fatalf("waypoint pods = %+v", wps)
	}
	api, err := ResolveTarget(c.Model(), "billing/deploy/billing-api")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("allowed path through the waypoint", func(t *testing.T) {
		_, body := eventuallyCurl(t, c, "allowed path", billingURL+"/headers", func(s, _ string, code int) bool { return code == 0 && s == "200" })
		if !strings.Contains(strings.ToLower(body), "x-request-id") {
			t.Errorf("no X-Request-Id reached the backend (not parsed by a waypoint?): %s", body)
		}
	})
	t.Run("denied path is 403 RBAC: access denied", func(t *testing.T) {
		status, body, code := curlFrom(t, c, billingURL+"/ip")
		if code != 0 || status != "403" || !strings.Contains(body, "RBAC: access denied") {
			t.Fatalf("denied path: status %q exit %d body %q", status, code, body)
		}
	})
	clientPod, err := ResolveTarget(c.Model(), "clients/deploy/client")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the client's ztunnel sends to the waypoint", func(t *testing.T) {
		waitLog(t, c, "istio-system/ztunnel-"+clientPod.Node, "connection complete", `src.identity="`+clientID+`"`,
			`dst.identity="`+waypointID+`"`, `direction="outbound"`)
	})
	t.Run("waypoint logs are readable", func(t *testing.T) {
		var buf bytes.Buffer
		if err := c.Logs(ctx, "billing/deploy/waypoint", "", false, 0, &buf); err != nil || buf.Len() == 0 {
			t.Fatalf("logs billing/deploy/waypoint: %d bytes, %v", buf.Len(), err)
		}
	})
	podURL := "http://" + api.IP.String() + ":80"
	t.Run("pod-IP traffic skips a service waypoint (L4 only)", func(t *testing.T) {
		status, body, code := curlFrom(t, c, podURL+"/headers")
		if code != 0 || status != "200" {
			t.Fatalf("pod IP: status %q exit %d body %q (no L4 policy denies it)", status, code, body)
		}
		if strings.Contains(strings.ToLower(body), "x-request-id") {
			t.Errorf("pod-IP request carries X-Request-Id: it went through a waypoint: %s", body)
		}
		waitLog(t, c, "istio-system/ztunnel-"+api.Node, "connection complete", `src.identity="`+clientID+`"`,
			`dst.identity="`+billingAPIID+`"`, `direction="inbound"`)
	})
	t.Run("the only-the-waypoint L4 policy closes the bypass", func(t *testing.T) {
		if _, err := c.Apply(ctx, mustDecode(t, "guard.yaml", onlyWaypointPolicy)); err != nil {
			t.Fatal(err)
		}
		eventuallyCurl(t, c, "pod IP under the guard", podURL+"/headers", func(_, _ string, code int) bool { return code != 0 })
		status, body, code := curlFrom(t, c, billingURL+"/headers")
		if code != 0 || status != "200" {
			t.Fatalf("through the waypoint under the guard: status %q exit %d body %q", status, code, body)
		}
		if _, err := c.Delete(ctx, mustDecode(t, "guard.yaml", onlyWaypointPolicy)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a killed waypoint restarts and enforces again", func(t *testing.T) {
		pr, err := c.podRuntime("billing/deploy/waypoint")
		if err != nil {
			t.Fatal(err)
		}
		ct := pr.containers[0]
		ct.mu.Lock()
		pid := ct.cmd.Process.Pid
		ct.mu.Unlock()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			ct.mu.Lock()
			restarted := ct.restarts == 1 && ct.ready
			ct.mu.Unlock()
			if restarted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("waypoint not restarted and ready within 20s of SIGKILL")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Same pod, same credential directory: the restarted process
		// enforces the same policy.
		eventuallyCurl(t, c, "denied path after the restart", billingURL+"/ip", func(s, body string, code int) bool {
			return code == 0 && s == "403" && strings.Contains(body, "RBAC: access denied")
		})
		eventuallyCurl(t, c, "allowed path after the restart", billingURL+"/headers", func(s, _ string, code int) bool { return code == 0 && s == "200" })
	})
	t.Run("deleting the waypoint Gateway sends traffic direct", func(t *testing.T) {
		if _, err := c.Delete(ctx, mustDecode(t, "gw.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: billing}
`)); err != nil {
			t.Fatal(err)
		}
		if n := len(waypointPods(c.Model())); n != 0 {
			t.Fatalf("%d waypoint pods after the Gateway was deleted", n)
		}
		// The L7 policy no longer applies: /ip is answered by the backend.
		_, body := eventuallyCurl(t, c, "direct after delete", billingURL+"/ip", func(s, _ string, code int) bool { return code == 0 && s == "200" })
		if !strings.Contains(body, "origin") {
			t.Errorf("unexpected /ip body %q", body)
		}
		// A waypoint for none traffic still gets ready (it is configured),
		// and nothing uses it.
		if _, err := c.Apply(ctx, mustDecode(t, "none.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: billing, labels: {istio.io/waypoint-for: none}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`)); err != nil {
			t.Fatalf("apply a waypoint-for none Gateway: %v", err)
		}
		if status, _, code := curlFrom(t, c, billingURL+"/ip"); code != 0 || status != "200" {
			t.Errorf("with a waypoint for none: status %q exit %d, want 200 direct", status, code)
		}
		// The waypoint's upstream connections (pooled, so logged by ztunnel
		// when they end) reached the destination as the waypoint.
		waitLog(t, c, "istio-system/ztunnel-"+api.Node, "connection complete", `src.identity="`+waypointID+`"`,
			`dst.identity="`+billingAPIID+`"`, `direction="inbound"`)
	})
}
