package manifest

import (
	"strings"
	"testing"
)

const waypointNS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"

func TestWaypointGatewayValidation(t *testing.T) {
	cases := []struct {
		name, doc string
		wantErr   []string // substrings of the error, in order of appearance
	}{
		{"current form", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo, labels: {istio.io/waypoint-for: all}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, nil},
		{"wrong port and protocol", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15009
    protocol: HTTP
`, []string{"w.yaml:12: Gateway demo/waypoint: spec.listeners[0].port: a waypoint listener uses port 15008, got 15009",
			"w.yaml:13: Gateway demo/waypoint: spec.listeners[0].protocol: a waypoint listener uses protocol HBONE"}},
		{"wrong listener name", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: proxy
    port: 15008
    protocol: HBONE
`, []string{`w.yaml:11: Gateway demo/waypoint: spec.listeners[0].name: a waypoint listener is named "mesh", got "proxy"`}},
		{"bad waypoint-for", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  labels: {istio.io/waypoint-for: pods}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, []string{`w.yaml:10: Gateway demo/waypoint: metadata.labels["istio.io/waypoint-for"]: "pods" is not service, workload, all or none`}},
		{"missing parameters ConfigMap", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  infrastructure:
    parametersRef: {group: "", kind: ConfigMap, name: wp-params}
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, []string{"spec.infrastructure.parametersRef: ConfigMap demo/wp-params not found"}},
		{"bad replicas in ConfigMap", `apiVersion: v1
kind: ConfigMap
metadata: {name: wp-params, namespace: demo}
data:
  deployment: |
    spec: {replicas: -2}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  infrastructure:
    parametersRef: {group: "", kind: ConfigMap, name: wp-params}
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, []string{"spec.replicas must be between 0 and 1000, got -2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("w.yaml", []byte(waypointNS+tc.doc))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestWaypointsResolved(t *testing.T) {
	set, err := Load("w.yaml", []byte(waypointNS+`apiVersion: v1
kind: ConfigMap
metadata: {name: wp-params, namespace: demo}
data:
  deployment: |
    spec:
      replicas: 3
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: scaled, namespace: demo, labels: {istio.io/waypoint-for: workload}}
spec:
  gatewayClassName: istio-waypoint
  infrastructure:
    parametersRef: {group: "", kind: ConfigMap, name: wp-params}
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: plain, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: demo}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
`))
	if err != nil {
		t.Fatal(err)
	}
	got := set.Waypoints()
	if len(got) != 2 {
		t.Fatalf("waypoints = %+v, want plain and scaled (ingress is not one)", got)
	}
	if w := got[0]; w.Key() != "demo/plain" || w.Replicas != 1 || w.For != WaypointForService || w.Legacy || w.DeployedName != "plain" {
		t.Errorf("plain = %+v", w)
	}
	if w := got[1]; w.Key() != "demo/scaled" || w.Replicas != 3 || w.For != WaypointForWorkload {
		t.Errorf("scaled = %+v", w)
	}
}

// The forms `istioctl x waypoint apply --service-account X` produced are
// accepted as workload waypoints, each with a legacy-form warning that names
// the current form.
func TestWaypointLegacyForms(t *testing.T) {
	cases := []struct {
		name, doc, wantSA, wantDeployed string
		wantWarn                        []string
	}{
		{"istioctl 1.18 (--service-account)", `apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: bookinfo-productpage
  namespace: demo
  annotations: {istio.io/for-service-account: bookinfo-productpage}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: ALL}
`, "bookinfo-productpage", "bookinfo-productpage-istio-waypoint", []string{"w.yaml:10: Gateway demo/bookinfo-productpage: metadata.annotations[\"istio.io/for-service-account\"]: istio.io/for-service-account is a removed legacy form",
			"w.yaml:14: Gateway demo/bookinfo-productpage: spec.listeners[0].protocol: protocol ALL is a legacy form",
			"gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]"}},
		{"class istio with an HBONE listener", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: namespace
  namespace: demo
  labels: {istio.io/gateway-name: namespace}
spec:
  gatewayClassName: istio
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, "", "namespace-istio", []string{"spec.gatewayClassName: gatewayClassName istio with an HBONE listener is a legacy waypoint form",
			`metadata.labels["istio.io/gateway-name"]: label istio.io/gateway-name is a legacy form`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Load("w.yaml", []byte(waypointNS+tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var legacy []string
			for _, w := range set.Warnings {
				switch w.Code {
				case WarnLegacyForm:
					legacy = append(legacy, w.String())
				case WarnNotEnforced:
					t.Errorf("a legacy waypoint is enforced, but got %s", w)
				}
			}
			all := strings.Join(legacy, "\n")
			for _, want := range tc.wantWarn {
				if !strings.Contains(all, want) {
					t.Errorf("legacy warnings\n%s\nlack %q", all, want)
				}
			}
			wps := set.Waypoints()
			if len(wps) != 1 || !wps[0].Legacy || wps[0].For != WaypointForWorkload || wps[0].LegacyServiceAccount != tc.wantSA ||
				wps[0].DeployedName != tc.wantDeployed {
				t.Errorf("waypoints = %+v, want one legacy workload waypoint for SA %q", wps, tc.wantSA)
			}
		})
	}
}

// A Gateway without istio.io/waypoint-for takes its GatewayClass's label.
func TestWaypointForFromGatewayClass(t *testing.T) {
	set, err := Load("w.yaml", []byte(waypointNS+`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio-waypoint, labels: {istio.io/waypoint-for: workload}}
spec: {controllerName: istio.io/mesh-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: inherits, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: own, namespace: demo, labels: {istio.io/waypoint-for: all}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`))
	if err != nil {
		t.Fatal(err)
	}
	wps := set.Waypoints()
	if len(wps) != 2 || wps[0].Name != "inherits" || wps[0].For != WaypointForWorkload || wps[1].For != WaypointForAll {
		t.Fatalf("waypoints = %+v", wps)
	}
	for _, w := range set.Warnings {
		if w.Code == WarnNotEnforced {
			t.Errorf("the istio-waypoint GatewayClass is built in, but: %s", w)
		}
	}
}
