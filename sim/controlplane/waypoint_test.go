package controlplane

import (
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

const snapshotPolicies = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: on-gateway, namespace: app}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: wp}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: on-service, namespace: app}
spec:
  targetRefs: [{group: "", kind: Service, name: api}]
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: on-class, namespace: istio-system}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: [/forbidden]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: selector-l4, namespace: app}
spec:
  selector: {matchLabels: {app: api}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/wp]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: app}
spec:
  targetRefs: [{group: "", kind: Service, name: api}]
  jwtRules: [{issuer: https://issuer.example, jwks: '{"keys":[]}'}]
`

func snapshots(t *testing.T, doc string) map[string]*config.Snapshot {
	t.Helper()
	set, err := manifest.Load("snap.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*config.Snapshot{}
	for _, s := range BuildResources(c, programmed(set, true), "istio-system").Waypoints {
		b, err := config.Marshal(s)
		if err != nil {
			t.Fatalf("snapshot %s does not encode: %v", s.Gateway, err)
		}
		if _, err := config.Unmarshal(b); err != nil {
			t.Fatalf("snapshot %s does not decode: %v", s.Gateway, err)
		}
		out[s.Gateway.String()] = s
	}
	return out
}

func policyNames(tg config.Target) string {
	var names []string
	for _, p := range tg.Policies {
		names = append(names, p.Key())
	}
	return strings.Join(names, ",")
}

func TestWaypointSnapshot(t *testing.T) {
	doc := bindFixture("istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "")+gatewayDoc("app", "other", "all")) + snapshotPolicies
	snaps := snapshots(t, doc)
	if len(snaps) != 2 {
		t.Fatalf("snapshots for %d waypoints, want 2", len(snaps))
	}
	wp := snaps["app/wp"]
	if wp.For != "service" || len(wp.Services) != 1 {
		t.Fatalf("app/wp: for %s, services %+v", wp.For, wp.Services)
	}
	api := wp.Services[0]
	if api.Name != "api" || api.Hostname != "api.app.svc.cluster.local" || len(api.Addresses) != 1 || !api.Addresses[0].IsValid() {
		t.Errorf("service = %+v", api)
	}
	if got := policyNames(api.Target); got != "app/on-gateway,app/on-service,istio-system/on-class" {
		t.Errorf("service policies = %s (selector policies belong to ztunnel)", got)
	}
	if len(api.JWTRules) != 1 || api.JWTRules[0].Issuer != "https://issuer.example" {
		t.Errorf("service jwt rules = %+v", api.JWTRules)
	}
	if got := policyNames(wp.Workload); got != "app/on-gateway,istio-system/on-class" {
		t.Errorf("workload-addressed policies = %s", got)
	}
	// The GatewayClass policy reaches every waypoint; a Gateway policy only its own.
	other := snaps["app/other"]
	if other.For != "all" || len(other.Services) != 0 {
		t.Errorf("app/other: for %s, services %+v", other.For, other.Services)
	}
	if got := policyNames(other.Workload); got != "istio-system/on-class" {
		t.Errorf("app/other policies = %s", got)
	}
}

func TestWaypointSnapshotFollowsLabels(t *testing.T) {
	// Without the label the Service is not bound; the snapshot still exists.
	snaps := snapshots(t, bindFixture("", "", "", gatewayDoc("app", "wp", "")))
	if wp := snaps["app/wp"]; wp == nil || len(wp.Services) != 0 {
		t.Fatalf("app/wp = %+v, want a snapshot without services", wp)
	}
	// waypoint-for none: deployed, nothing bound, still configured (its pods
	// get ready on their first config).
	snaps = snapshots(t, bindFixture("istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "none")))
	if wp := snaps["app/wp"]; wp == nil || wp.For != "none" || len(wp.Services) != 0 {
		t.Fatalf("app/wp (none) = %+v", wp)
	}
	// Deleting the Gateway removes its snapshot.
	if snaps := snapshots(t, bindFixture("istio.io/use-waypoint: wp", "", "", "")); len(snaps) != 0 {
		t.Fatalf("snapshots without a Gateway: %v", snaps)
	}
}

func TestInputCarriesGatewayAPIObjects(t *testing.T) {
	set, err := manifest.Load("in.yaml", []byte(bindFixture("istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "workload"))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteInput(dir, c, programmed(set, true)); err != nil {
		t.Fatal(err)
	}
	_, got, _, err := ReadInput(dir)
	if err != nil {
		t.Fatal(err)
	}
	if wps := got.Waypoints(); len(wps) != 1 || wps[0].Key() != "app/wp" || wps[0].For != "workload" || !wps[0].Programmed {
		t.Fatalf("waypoints read back = %+v", wps)
	}
}

func TestWaypointSnapshotCarriesRoutes(t *testing.T) {
	doc := bindFixture("istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "")) + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-routes, namespace: app}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 8000}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: api, port: 8000}]
`
	wp := snapshots(t, doc)["app/wp"]
	if wp == nil || len(wp.Services) != 1 {
		t.Fatalf("app/wp = %+v", wp)
	}
	if r := wp.Services[0].Routing; r == nil || len(r.HTTP) == 0 {
		t.Fatalf("service api has no HTTP routes: %+v", r)
	}
}
