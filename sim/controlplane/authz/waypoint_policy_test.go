package authz

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
)

var wpTarget = WaypointTarget{GatewayNamespace: "apps", GatewayName: "waypoint", ServiceNamespace: "apps", ServiceName: "httpbin"}

func gwRef(kind, name string) []*typev1beta1.PolicyTargetReference {
	return []*typev1beta1.PolicyTargetReference{{Group: gatewayGroup, Kind: kind, Name: name}}
}

func svcRef(name string) []*typev1beta1.PolicyTargetReference {
	return []*typev1beta1.PolicyTargetReference{{Kind: "Service", Name: name}}
}

func TestWaypointAttachment(t *testing.T) {
	allowAll := []*v1beta1.Rule{{}}
	aps := []*securityv1.AuthorizationPolicy{
		ap("apps", "gateway", &v1beta1.AuthorizationPolicy{TargetRefs: gwRef("Gateway", "waypoint"), Rules: allowAll}),
		ap("apps", "legacy-singular", &v1beta1.AuthorizationPolicy{TargetRef: gwRef("Gateway", "waypoint")[0], Rules: allowAll}),
		ap("apps", "service", &v1beta1.AuthorizationPolicy{TargetRefs: svcRef("httpbin"), Rules: allowAll}),
		ap(root, "class", &v1beta1.AuthorizationPolicy{TargetRefs: gwRef("GatewayClass", waypointGatewayClass), Rules: allowAll}),
		ap("apps", "class-outside-root", &v1beta1.AuthorizationPolicy{TargetRefs: gwRef("GatewayClass", waypointGatewayClass), Rules: allowAll}),
		ap("apps", "other-gateway", &v1beta1.AuthorizationPolicy{TargetRefs: gwRef("Gateway", "other"), Rules: allowAll}),
		ap("apps", "other-service", &v1beta1.AuthorizationPolicy{TargetRefs: svcRef("reviews"), Rules: allowAll}),
		ap("other", "service-other-ns", &v1beta1.AuthorizationPolicy{TargetRefs: svcRef("httpbin"), Rules: allowAll}),
		ap("apps", "cross-ns-ref", &v1beta1.AuthorizationPolicy{TargetRefs: []*typev1beta1.PolicyTargetReference{{Kind: "Service", Name: "httpbin", Namespace: "other"}}, Rules: allowAll}),
		ap("apps", "selector", &v1beta1.AuthorizationPolicy{Selector: sel("app", "httpbin"), Rules: allowAll}),
	}
	got, _ := Config{}.WaypointPolicies(aps, wpTarget)
	var keys []string
	for _, p := range got {
		keys = append(keys, p.Key())
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Key(), err)
		}
	}
	want := "apps/gateway apps/legacy-singular apps/service istio-system/class"
	if strings.Join(keys, " ") != want {
		t.Errorf("attached %v; want %s", keys, want)
	}
	noSvc, _ := Config{}.WaypointPolicies(aps, WaypointTarget{GatewayNamespace: "apps", GatewayName: "waypoint"})
	if len(noSvc) != 3 {
		t.Errorf("pod-addressed request: %d policies", len(noSvc))
	}
}

// request is a waypoint exchange for the decision table.
type request struct {
	host, method, path, principal string
	headers                       http.Header
	claims                        map[string]any
	peer                          string
}

func (r request) attrs() *policy.Attributes {
	method := r.method
	if method == "" {
		method = "GET"
	}
	ex := &waypoint.Exchange{
		Req:    httptest.NewRequest(method, "/", nil),
		Host:   r.host,
		Path:   r.path,
		Header: r.headers,
		Peer: waypoint.Peer{SourceIP: netip.MustParseAddr("10.0.0.9"), DestinationIP: netip.MustParseAddr("10.96.0.1"), DestPort: 8000,
			Identity: policy.NewIdentity("cluster.local", "clients", "curl")},
	}
	if r.peer != "" {
		ex.Peer.SourceIP = netip.MustParseAddr(r.peer)
	}
	if ex.Header == nil {
		ex.Header = http.Header{}
	}
	if r.principal != "" {
		iss, sub, _ := strings.Cut(r.principal, "|")
		ex.Auth = jwtauthn.Result{Principal: iss + "/" + sub, Issuer: iss, Subject: sub, Claims: r.claims, Audiences: []string{"httpbin"}}
	}
	return waypoint.Attributes(ex)
}

func TestWaypointPolicySemantics(t *testing.T) {
	allow, deny, custom := v1beta1.AuthorizationPolicy_ALLOW, v1beta1.AuthorizationPolicy_DENY, v1beta1.AuthorizationPolicy_CUSTOM
	mk := func(action v1beta1.AuthorizationPolicy_Action, rules ...*v1beta1.Rule) *securityv1.AuthorizationPolicy {
		return ap("apps", "p", &v1beta1.AuthorizationPolicy{TargetRefs: svcRef("httpbin"), Action: action, Rules: rules})
	}
	to := func(op *v1beta1.Operation) *v1beta1.Rule { return &v1beta1.Rule{To: toOp(op)} }
	when := func(key string, vals, nots []string) *v1beta1.Rule {
		return &v1beta1.Rule{When: []*v1beta1.Condition{{Key: key, Values: vals, NotValues: nots}}}
	}
	base := request{host: "httpbin.apps.svc.cluster.local:8000", path: "/get"}
	with := func(f func(*request)) request { r := base; f(&r); return r }
	cases := []struct {
		name  string
		ap    *securityv1.AuthorizationPolicy
		req   request
		allow bool
	}{
		{"port-less host matches with port and any case", mk(allow, to(&v1beta1.Operation{Hosts: []string{"HTTPBIN.apps.svc.cluster.local"}})), base, true},
		{"port-less host, other host", mk(allow, to(&v1beta1.Operation{Hosts: []string{"reviews"}})), base, false},
		{"host with port, same port", mk(allow, to(&v1beta1.Operation{Hosts: []string{"httpbin.apps.svc.cluster.local:8000"}})), base, true},
		{"host with port, other port", mk(allow, to(&v1beta1.Operation{Hosts: []string{"httpbin.apps.svc.cluster.local:9000"}})), base, false},
		{"mixed hosts OR", mk(allow, to(&v1beta1.Operation{Hosts: []string{"x:1", "*.svc.cluster.local"}})), base, true},
		{"notHosts port-less excludes host:port", mk(allow, to(&v1beta1.Operation{NotHosts: []string{"httpbin.apps.svc.cluster.local"}})), base, false},
		{"DENY suffix host with port", mk(deny, to(&v1beta1.Operation{Hosts: []string{"*.cluster.local"}})), base, false},
		{"DENY paths prefix", mk(deny, to(&v1beta1.Operation{Paths: []string{"/admin/*"}})), with(func(r *request) { r.path = "/admin/x" }), false},
		{"DENY paths prefix, other path", mk(deny, to(&v1beta1.Operation{Paths: []string{"/admin/*"}})), base, true},
		{"methods are exact", mk(allow, to(&v1beta1.Operation{Methods: []string{"GET"}})), with(func(r *request) { r.method = "POST" }), false},
		{"ports", mk(allow, to(&v1beta1.Operation{Ports: []string{"8000"}})), base, true},
		{"requestPrincipals * without token", mk(allow, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{RequestPrincipals: []string{"*"}})}), base, false},
		{"requestPrincipals * with token", mk(allow, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{RequestPrincipals: []string{"*"}})}), with(func(r *request) { r.principal = "iss|alice" }), true},
		{"notRequestPrincipals", mk(deny, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{NotRequestPrincipals: []string{"iss/alice"}})}), with(func(r *request) { r.principal = "iss|alice" }), true},
		{"principals", mk(allow, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{Principals: []string{"cluster.local/ns/clients/sa/curl"}})}), base, true},
		{"trustDomains", mk(allow, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{TrustDomains: []string{"other.td"}})}), base, false},
		{"serviceAccounts", mk(allow, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{ServiceAccounts: []string{"clients/curl"}})}), base, true},
		{"ipBlocks", mk(allow, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{IpBlocks: []string{"10.0.0.0/24"}})}), base, true},
		{"notRemoteIpBlocks from the peer", mk(deny, &v1beta1.Rule{From: fromSrc(&v1beta1.Source{NotRemoteIpBlocks: []string{"10.0.0.0/8"}})}), with(func(r *request) { r.peer = "192.168.1.1" }), false},
		{"claims list element", mk(allow, when("request.auth.claims[groups]", []string{"admin"}, nil)), with(func(r *request) { r.principal = "iss|a"; r.claims = map[string]any{"groups": []any{"dev", "admin"}} }), true},
		{"claims missing element", mk(allow, when("request.auth.claims[groups]", []string{"admin"}, nil)), with(func(r *request) { r.principal = "iss|a"; r.claims = map[string]any{"groups": []any{"dev"}} }), false},
		{"nested claims", mk(allow, when("request.auth.claims[a][b]", []string{"c"}, nil)), with(func(r *request) { r.principal = "iss|a"; r.claims = map[string]any{"a": map[string]any{"b": "c"}} }), true},
		{"claims need a token", mk(allow, when("request.auth.claims[groups]", []string{"*"}, nil)), with(func(r *request) { r.headers = http.Header{":request.auth.claims[groups]": {"admin"}} }), false},
		{"audiences", mk(allow, when("request.auth.audiences", []string{"httpbin"}, nil)), with(func(r *request) { r.principal = "iss|a" }), true},
		{"request.auth.principal", mk(allow, when("request.auth.principal", []string{"iss/a"}, nil)), with(func(r *request) { r.principal = "iss|a" }), true},
		{"header each value", mk(deny, when("request.headers[x-user]", []string{"mallory"}, nil)), with(func(r *request) { r.headers = http.Header{"X-User": {"alice", "mallory"}} }), false},
		{"header notValues", mk(allow, when("request.headers[x-user]", nil, []string{"mallory"})), with(func(r *request) { r.headers = http.Header{"X-User": {"alice"}} }), true},
		{"destination.port", mk(allow, when("destination.port", []string{"9000"}, nil)), base, false},
		{"source.namespace", mk(allow, when("source.namespace", []string{"clients"}, nil)), base, true},
		{"unsupported key in ALLOW never matches", mk(allow, when("connection.sni", []string{"*"}, nil)), base, false},
		{"unsupported key dropped from DENY", mk(deny, &v1beta1.Rule{To: toOp(&v1beta1.Operation{Paths: []string{"/get"}}), When: []*v1beta1.Condition{{Key: "connection.sni", Values: []string{"x"}}}}), base, false},
		{"CUSTOM fails closed", mk(custom, to(&v1beta1.Operation{Paths: []string{"/get"}})), base, false},
		{"empty ALLOW denies all", mk(allow), base, false},
		{"ALLOW rules: [{}] allows all", mk(allow, &v1beta1.Rule{}), base, true},
	}
	for _, c := range cases {
		ps, _ := Config{}.WaypointPolicies([]*securityv1.AuthorizationPolicy{c.ap}, wpTarget)
		if len(ps) != 1 {
			t.Fatalf("%s: %d policies", c.name, len(ps))
		}
		if err := ps[0].Validate(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := policy.Evaluate(ps, c.req.attrs()).Allowed; got != c.allow {
			t.Errorf("%s: allowed=%v; want %v", c.name, got, c.allow)
		}
	}
}

func TestWaypointWarnings(t *testing.T) {
	aps := []*securityv1.AuthorizationPolicy{
		ap("apps", "custom", &v1beta1.AuthorizationPolicy{TargetRefs: svcRef("httpbin"), Action: v1beta1.AuthorizationPolicy_CUSTOM, Rules: []*v1beta1.Rule{{}}}),
		ap("apps", "sni", &v1beta1.AuthorizationPolicy{TargetRefs: svcRef("httpbin"), Rules: []*v1beta1.Rule{{When: []*v1beta1.Condition{{Key: "connection.sni", Values: []string{"x"}}}}}}),
	}
	_, ws := Config{}.WaypointPolicies(aps, wpTarget)
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "custom,sni" {
		t.Errorf("warnings %v", ws)
	}
}

func TestWaypointJWTRules(t *testing.T) {
	ra := &securityv1.RequestAuthentication{}
	ra.Namespace, ra.Name = "apps", "jwt"
	ra.Spec.TargetRefs = gwRef("Gateway", "waypoint")
	ra.Spec.JwtRules = []*v1beta1.JWTRule{{
		Issuer: "https://issuer.example", Audiences: []string{"httpbin"}, JwksUri: "http://jwks.apps:8080/keys",
		FromHeaders: []*v1beta1.JWTHeader{{Name: "x-jwt", Prefix: "Token "}}, FromParams: []string{"jwt"},
		ForwardOriginalToken: true, OutputPayloadToHeader: "x-payload",
		OutputClaimToHeaders: []*v1beta1.ClaimToHeader{{Header: "x-sub", Claim: "sub"}},
		FromCookies:          []string{"session"},
	}}
	other := &securityv1.RequestAuthentication{}
	other.Namespace, other.Name = "apps", "selector-only"
	other.Spec.Selector = sel("app", "httpbin")
	other.Spec.JwtRules = []*v1beta1.JWTRule{{Issuer: "https://ignored.example"}}

	rules, ws := Config{}.WaypointJWTRules([]*securityv1.RequestAuthentication{other, ra}, wpTarget)
	if len(rules) != 1 || len(ws) != 1 {
		t.Fatalf("rules %+v warnings %v", rules, ws)
	}
	r := rules[0]
	if r.Issuer != "https://issuer.example" || r.JWKSURI != "http://jwks.apps:8080/keys" || r.Audiences[0] != "httpbin" ||
		r.FromHeaders[0] != (jwtauthn.HeaderLocation{Name: "x-jwt", Prefix: "Token "}) || r.FromParams[0] != "jwt" ||
		!r.ForwardOriginalToken || r.OutputPayloadToHeader != "x-payload" || r.OutputClaimToHeaders[0] != (jwtauthn.ClaimToHeader{Header: "x-sub", Claim: "sub"}) {
		t.Errorf("converted %+v", r)
	}
}
