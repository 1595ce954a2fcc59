package manifest

import (
	"strings"
	"testing"
)

func TestNotEnforcedWarnings(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"
	cases := []struct {
		name, doc string
		want      string // substring of the warning, "" = no warning
	}{
		{"selector ALLOW is enforced by ztunnel", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec:
  selector: {matchLabels: {app: x}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/a]}}]}]
`, ""},
		{"PeerAuthentication is enforced", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: demo}
spec: {mtls: {mode: STRICT}}
`, ""},
		{"targetRefs on a Service is enforced by its waypoint", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: x}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
`, ""},
		{"targetRefs on a ServiceEntry is not", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: x}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
`, "not yet enforced for targetRef networking.istio.io/ServiceEntry x"},
		{"CUSTOM at a waypoint fails closed", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: CUSTOM
  provider: {name: ext}
  rules: [{}]
`, "CUSTOM denies whatever it matches"},
		{"RequestAuthentication with targetRefs is enforced", `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: r, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules: [{issuer: iss, jwks: '{"keys":[]}'}]
`, ""},
		{"RequestAuthentication with a selector is not (ambient)", `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: r, namespace: demo}
spec:
  selector: {matchLabels: {app: x}}
  jwtRules: [{issuer: iss, jwks: '{"keys":[]}'}]
`, "enforced by waypoints only"},
		{"waypoint Gateway is deployed", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, ""},
		{"ingress Gateway is not", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: demo}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
`, "ingress Gateways are not"},
		{"HTTPRoute with a Service parent is enforced", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: x}]
  rules: [{backendRefs: [{name: x, port: 80}]}]
`, ""},
		{"HTTPRoute with a Gateway parent is not", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: demo}
spec:
  parentRefs: [{name: ingress}]
  rules: [{backendRefs: [{name: x, port: 80}]}]
`, "(ingress) are not"},
		{"TCPRoute with a Service parent is enforced", `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: r, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: x}]
  rules: [{backendRefs: [{name: x, port: 80}]}]
`, ""},
		{"TCPRoute with a Gateway parent is not", `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: r, namespace: demo}
spec:
  parentRefs: [{name: ingress}]
  rules: [{backendRefs: [{name: x, port: 80}]}]
`, "(ingress) are not"},
		{"AUDIT is not sent to ztunnel", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec: {action: AUDIT, rules: [{}]}
`, "does not support the AUDIT action"},
		{"VirtualService is applied by waypoints", `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v, namespace: demo}
spec: {hosts: [x]}
`, ""},
		{"DestinationRule waits", `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: demo}
spec: {host: x}
`, "accepted, not yet enforced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Load("e.yaml", []byte(ns+tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range set.Warnings {
				if w.Code == WarnNotEnforced {
					got = append(got, w.String())
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("unexpected warnings %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("warnings %v, want one containing %q", got, tc.want)
			}
		})
	}
}
