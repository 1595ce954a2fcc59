package l7route

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

func testCluster() *topology.Cluster {
	svc := func(ns, name, vip string, ports ...uint16) topology.Service {
		s := topology.Service{Namespace: ns, Name: name, ClusterIP: netip.MustParseAddr(vip)}
		for _, p := range ports {
			s.Ports = append(s.Ports, topology.ServicePort{Name: "http", Port: p, Protocol: topology.ProtocolTCP})
		}
		return s
	}
	return &topology.Cluster{ClusterDomain: "cluster.local", Services: []topology.Service{
		svc("apps", "reviews", "198.19.0.10", 9080),
		svc("apps", "reviews-v1", "198.19.0.11", 9080),
		svc("apps", "reviews-v2", "198.19.0.12", 9080),
		svc("apps", "db", "198.19.0.13", 5432),
		svc("apps", "multi", "198.19.0.14", 80, 8080),
		svc("other", "remote", "198.19.0.20", 80),
	}}
}

func decode(t *testing.T, y string) *manifest.Set {
	t.Helper()
	set, err := manifest.Decode("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const httpRoutes = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split, namespace: apps}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs:
    - {name: reviews-v1, port: 9080, weight: 90}
    - {name: reviews-v2, port: 9080, weight: 10}
  - matches: [{path: {type: PathPrefix, value: /api/}, headers: [{name: X-Version, value: v2}]}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-routed, value: "yes"}], remove: [x-drop]}
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2/}}
    backendRefs: [{name: reviews-v2, port: 9080}]
    retry: {codes: [503], attempts: 3, backoff: 10ms}
    timeouts: {request: 2s, backendRequest: 500ms}
  - matches: [{path: {type: Exact, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /new}, statusCode: 301}}]
  - matches: [{path: {type: Exact, value: /missing}}]
    backendRefs: [{name: nope, port: 9080}, {name: remote, namespace: other, port: 80}, {name: reviews-v1, port: 1}]
  - matches: [{path: {type: Exact, value: /zero}}]
    backendRefs: [{name: reviews-v1, port: 9080, weight: 0}]
`

func TestBuildHTTPRoute(t *testing.T) {
	tables, warns := Build(testCluster(), decode(t, httpRoutes))
	tb := tables[ServiceKey{"apps", "reviews"}]
	if tb == nil || len(tables) != 1 {
		t.Fatalf("tables: %v", tables)
	}
	var names []string
	for _, r := range tb.HTTP {
		names = append(names, r.Name)
		if r.Port != 9080 || r.Source != route.SourceHTTPRoute {
			t.Errorf("%s: port %d source %s", r.Name, r.Port, r.Source)
		}
	}
	// Exact paths, longest first (/missing, /zero, /old), then the /api
	// prefix, then the rule without matches (PathPrefix "/").
	want := []string{"apps/split/3/0", "apps/split/4/0", "apps/split/2/0", "apps/split/1/0", "apps/split/0/0"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", names, want)
	}
	api := tb.HTTP[3]
	if api.Retry.Attempts != 3 || api.Retry.Codes[0] != 503 || api.Retry.PerTryTimeout.D().String() != "500ms" ||
		api.Timeout.D().String() != "2s" || api.Retry.Backoff.D().String() != "10ms" {
		t.Errorf("retry/timeouts: %+v timeout %v", api.Retry, api.Timeout)
	}
	if api.Rewrite.Path.Value != "/v2/" || api.RequestHeaders.Set[0].Name != "x-routed" || api.Match.Headers[0].Name != "x-version" {
		t.Errorf("filters: %+v", api)
	}
	split := tb.HTTP[4]
	if len(split.Backends) != 2 || split.Backends[0].Address != netip.MustParseAddrPort("198.19.0.11:9080") ||
		split.Backends[0].Weight != 90 || split.Retry.Attempts != 2 || split.Retry.Codes != nil {
		t.Errorf("split: %+v", split)
	}
	if rd := tb.HTTP[2].Redirect; rd == nil || rd.StatusCode != 301 || rd.Path.Value != "/new" {
		t.Errorf("redirect: %+v", tb.HTTP[2])
	}
	missing := tb.HTTP[0]
	for _, b := range missing.Backends {
		if b.Resolved() {
			t.Errorf("backend %s resolved, want unresolved", b.Service)
		}
	}
	if tb.HTTP[1].Backends != nil {
		t.Errorf("all-zero weights must leave no backends (500): %+v", tb.HTTP[1].Backends)
	}
	reasons := map[string]bool{}
	for _, w := range warns {
		reasons[w.Reason] = true
		if w.Condition == condResolvedRefs && !strings.Contains(w.Field, "spec.rules[3].backendRefs") {
			t.Errorf("warning on the wrong field: %s", w)
		}
	}
	for _, r := range []string{reasonNotFound, reasonNotAllowed} {
		if !reasons[r] {
			t.Errorf("no %s warning in %v", r, warns)
		}
	}
}

func TestReferenceGrantAllowsCrossNamespace(t *testing.T) {
	y := httpRoutes + `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service}]
`
	tables, _ := Build(testCluster(), decode(t, y))
	for _, b := range tables[ServiceKey{"apps", "reviews"}].HTTP[0].Backends {
		if b.Service == "other/remote" && b.Address != netip.MustParseAddrPort("198.19.0.20:80") {
			t.Fatalf("granted backend unresolved: %+v", b)
		}
	}
}

const virtualService = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: apps}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}, uri: {prefix: /r}}]
    route: [{destination: {host: reviews-v2}}]
    fault:
      abort: {httpStatus: 503, percentage: {value: 50}}
      delay: {fixedDelay: 1s, percentage: {value: 100}}
    retries: {attempts: 4, retryOn: "5xx,503,bogus", perTryTimeout: 1s}
    timeout: 3s
  - route:
    - {destination: {host: reviews-v1.apps.svc.cluster.local, port: {number: 9080}}, weight: 75}
    - {destination: {host: multi}, weight: 25}
    headers: {response: {add: {x-b: "2", x-a: "1"}}}
  - route: [{destination: {host: reviews-v2}}]
`

func TestBuildVirtualService(t *testing.T) {
	tables, warns := Build(testCluster(), decode(t, virtualService))
	tb := tables[ServiceKey{"apps", "reviews"}]
	if tb == nil || len(tb.HTTP) != 2 {
		t.Fatalf("want 2 routes (the catch-all ends the list): %+v", tb)
	}
	r0 := tb.HTTP[0]
	if r0.Match.Path.Type != route.PathStringPrefix || r0.Match.Headers[0] != (route.HeaderMatch{Name: "end-user", Type: route.StringExact, Value: "jason"}) {
		t.Errorf("match: %+v", r0.Match)
	}
	if r0.Backends[0].Weight != 100 || r0.Backends[0].Address != netip.MustParseAddrPort("198.19.0.12:9080") {
		t.Errorf("single destination: %+v", r0.Backends)
	}
	if r0.Fault.Abort.HTTPStatus != 503 || r0.Fault.Abort.Percent != 50 || r0.Fault.Delay.Fixed.D().String() != "1s" {
		t.Errorf("fault: %+v", r0.Fault)
	}
	if r0.Retry.Attempts != 4 || len(r0.Retry.On) != 2 || r0.Retry.On[1] != route.RetryRetriableStatusCodes || r0.Retry.Codes[0] != 503 {
		t.Errorf("retry: %+v", r0.Retry)
	}
	r1 := tb.HTTP[1]
	if r1.Backends[1].Address != netip.AddrPortFrom(netip.MustParseAddr("198.19.0.14"), 0) || r1.Backends[1].Port != 0 {
		t.Errorf("multi-port destination without a port must follow the request port: %+v", r1.Backends[1])
	}
	if r1.ResponseHeaders.Add[0].Name != "x-a" || r1.Retry.Attempts != 2 {
		t.Errorf("headers sorted / default retry: %+v", r1)
	}
	found := false
	for _, w := range warns {
		found = found || strings.Contains(w.Message, `"bogus"`)
	}
	if !found {
		t.Errorf("unknown retryOn not warned: %v", warns)
	}
}

func TestMixedVirtualServiceAndHTTPRouteWarns(t *testing.T) {
	tables, warns := Build(testCluster(), decode(t, virtualService+"---\n"+httpRoutes))
	tb := tables[ServiceKey{"apps", "reviews"}]
	if tb.HTTP[0].Source != route.SourceVirtualService || tb.HTTP[len(tb.HTTP)-1].Source != route.SourceHTTPRoute {
		t.Fatalf("the older VirtualService's routes come first: %v %v", tb.HTTP[0].Source, tb.HTTP[len(tb.HTTP)-1].Source)
	}
	mixed := false
	for _, w := range warns {
		mixed = mixed || (w.Kind == "Service" && strings.Contains(w.Message, "mixing"))
	}
	if !mixed {
		t.Fatalf("no mixing warning: %v", warns)
	}
}

func TestBuildTCPRoute(t *testing.T) {
	y := `
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: db, namespace: apps}
spec:
  parentRefs: [{group: "", kind: Service, name: db}]
  rules:
  - backendRefs: [{name: db, port: 5432, weight: 1}, {name: reviews-v1, port: 9080, weight: 3}]
`
	tables, warns := Build(testCluster(), decode(t, y))
	tb := tables[ServiceKey{"apps", "db"}]
	if tb == nil || len(tb.TCP) != 1 || len(tb.TCP[0].Backends) != 2 || tb.TCP[0].Backends[1].Weight != 3 || len(warns) != 0 {
		t.Fatalf("tcp: %+v %v", tb, warns)
	}
}

func TestParentNotFoundAndIngressParentIgnored(t *testing.T) {
	y := `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: apps}
spec:
  parentRefs: [{group: "", kind: Service, name: ghost}, {name: ingress}]
  rules: [{backendRefs: [{name: reviews, port: 9080}]}]
`
	tables, warns := Build(testCluster(), decode(t, y))
	if len(tables) != 0 || len(warns) != 1 || warns[0].Reason != reasonNoParent {
		t.Fatalf("tables %v warnings %v", tables, warns)
	}
}
