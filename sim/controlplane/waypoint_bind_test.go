package controlplane

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"istio.io/istio/pkg/workloadapi"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// bindFixture is namespace "app" (labels nsLabels) with Service/Deployment
// "api" (Service labels svcLabels, pod labels podLabels), plus gateways.
func bindFixture(nsLabels, svcLabels, podLabels, gateways string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio.io/dataplane-mode: ambient, %s}}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: app}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, %s}}
    spec:
      serviceAccountName: api
      containers: [{name: api, image: kennethreitz/httpbin}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: app, labels: {%s}}
spec:
  selector: {app: api}
  ports: [{name: http, port: 8000, targetPort: 80}]
%s`, nsLabels, podLabels, svcLabels, gateways)
}

func gatewayDoc(ns, name, forLabel string) string {
	labels := ""
	if forLabel != "" {
		labels = "labels: {istio.io/waypoint-for: " + forLabel + "}, "
	}
	return fmt.Sprintf(`---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {%sname: %s, namespace: %s}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`, labels, name, ns)
}

// bindingSummary renders "service|pod <name> -> <waypoint host or ->" for
// the Services and workloads of namespace app, except the waypoints' own.
func bindingSummary(t *testing.T, doc string) (summary string, warnings []string) {
	t.Helper()
	set, err := manifest.Load("bind.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := BuildResources(c, programmed(set, true), "istio-system")
	host := func(ga *workloadapi.GatewayAddress) string {
		if ga == nil {
			return "-"
		}
		if ga.GetHboneMtlsPort() != 15008 {
			t.Errorf("waypoint address %v: hbone port %d", ga, ga.GetHboneMtlsPort())
		}
		return ga.GetHostname().GetHostname()
	}
	own := map[string]bool{}
	for _, w := range set.Waypoints() {
		own[w.DeployedName] = true
	}
	var lines []string
	for _, a := range r.Addresses {
		if own[a.GetService().GetName()] || own[a.GetWorkload().GetWorkloadName()] {
			continue
		}
		switch {
		case a.GetService() != nil && a.GetService().GetNamespace() == "app":
			s := a.GetService()
			lines = append(lines, "service "+s.GetName()+" -> "+host(s.GetWaypoint()))
		case a.GetWorkload() != nil && a.GetWorkload().GetNamespace() == "app":
			w := a.GetWorkload()
			lines = append(lines, "pod "+w.GetWorkloadName()+" -> "+host(w.GetWaypoint()))
		}
	}
	sort.Strings(lines)
	for _, w := range r.Warnings {
		warnings = append(warnings, w.String())
	}
	return strings.Join(lines, "; "), warnings
}

func TestWaypointBinding(t *testing.T) {
	const wpHost, wp2Host, infraHost = "wp.app.svc.cluster.local", "wp2.app.svc.cluster.local", "shared.infra.svc.cluster.local"
	cases := []struct {
		name                                string
		nsLabels, svcLabels, podLabels, gws string
		want                                string
		wantWarning                         string
	}{
		{"namespace label, service waypoint: the Service only",
			"istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", ""),
			"pod api -> -; service api -> " + wpHost, ""},
		{"Service label beats the Namespace label",
			"istio.io/use-waypoint: wp", "istio.io/use-waypoint: wp2", "", gatewayDoc("app", "wp", "") + gatewayDoc("app", "wp2", ""),
			"pod api -> -; service api -> " + wp2Host, ""},
		{"none on the Service opts out",
			"istio.io/use-waypoint: wp", "istio.io/use-waypoint: none", "", gatewayDoc("app", "wp", ""),
			"pod api -> -; service api -> -", ""},
		{"workload waypoint: pods only",
			"istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "workload"),
			"pod api -> " + wpHost + "; service api -> -", ""},
		{"waypoint for all: both",
			"istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "all"),
			"pod api -> " + wpHost + "; service api -> " + wpHost, ""},
		{"none on the pod opts it out of a workload waypoint",
			"istio.io/use-waypoint: wp", "", "istio.io/use-waypoint: none", gatewayDoc("app", "wp", "all"),
			"pod api -> -; service api -> " + wpHost, ""},
		{"waypoint for none serves nothing",
			"istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "none"),
			"pod api -> -; service api -> -", ""},
		{"use-waypoint-namespace picks another namespace that allows it",
			"istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra", "", "",
			strings.Replace(gatewayDoc("infra", "shared", ""), "protocol: HBONE}", "protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}", 1),
			"pod api -> -; service api -> " + infraHost, ""},
		{"a namespace selector on allowedRoutes admits labelled namespaces",
			"istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra, team: billing", "", "",
			strings.Replace(gatewayDoc("infra", "shared", ""), "protocol: HBONE}",
				"protocol: HBONE, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: billing}}}}}", 1),
			"pod api -> -; service api -> " + infraHost, ""},
		{"another namespace's waypoint without allowedRoutes: not bound",
			"istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra", "", "", gatewayDoc("infra", "shared", ""),
			"pod api -> -; service api -> -", `AttachmentDenied: we are not permitted to attach to waypoint "infra/shared" (missing allowedRoutes?)`},
		{"labelled but missing: direct, with a warning",
			"istio.io/use-waypoint: ghost", "", "", "",
			"pod api -> -; service api -> -", "Namespace app (its Services and pods): waypoint app/ghost does not exist"},
		{"Service label for a workload-only waypoint: not bound, with a warning",
			"", "istio.io/use-waypoint: wp", "", gatewayDoc("app", "wp", "workload"),
			"pod api -> -; service api -> -", `UnsupportedTrafficType: attempting to bind to traffic type "service" which the waypoint "app/wp" does not support`},
		{"a waypoint never uses itself", // its own Deployment and Service are in the labelled namespace
			"istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "all"),
			"pod api -> " + wpHost + "; service api -> " + wpHost, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings := bindingSummary(t, bindFixture(tc.nsLabels, tc.svcLabels, tc.podLabels, tc.gws))
			if got != tc.want {
				t.Errorf("bindings\n got %s\nwant %s", got, tc.want)
			}
			all := strings.Join(warnings, "\n")
			if tc.wantWarning == "" && all != "" {
				t.Errorf("unexpected warnings: %s", all)
			}
			if tc.wantWarning != "" && !strings.Contains(all, tc.wantWarning) {
				t.Errorf("warnings %q lack %q", all, tc.wantWarning)
			}
		})
	}
}

func TestLegacyWaypointBindsItsServiceAccount(t *testing.T) {
	doc := bindFixture("", "", "", `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: infra-wp
  namespace: infra
  annotations: {istio.io/for-service-account: api}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: ALL}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: legacy
  namespace: app
  annotations: {istio.io/for-service-account: api}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: ALL}]
`)
	got, _ := bindingSummary(t, doc)
	if want := "pod api -> legacy-istio-waypoint.app.svc.cluster.local; service api -> -"; got != want {
		t.Errorf("bindings\n got %s\nwant %s (the legacy waypoint in another namespace binds nothing)", got, want)
	}
}

// programmed marks every waypoint Gateway of set as the simulator does once
// its pods are ready (or not).
func programmed(set *manifest.Set, ready bool) *manifest.Set {
	out := &manifest.Set{}
	for _, o := range set.Objects {
		out.Objects = append(out.Objects, manifest.WithProgrammed(o, ready))
	}
	return out
}

// Until a waypoint pod is ready (Gateway Programmed), nothing is bound to
// it: traffic goes direct, with a warning; its snapshot already exists, so
// the waypoint can get ready.
func TestWaypointNotProgrammedIsNotBound(t *testing.T) {
	set, err := manifest.Load("bind.yaml", []byte(bindFixture("istio.io/use-waypoint: wp", "", "", gatewayDoc("app", "wp", "all"))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*manifest.Set{set, programmed(set, false)} {
		r := BuildResources(c, s, "istio-system")
		for _, a := range r.Addresses {
			if a.GetService().GetWaypoint() != nil || a.GetWorkload().GetWaypoint() != nil {
				t.Errorf("bound to a waypoint that is not programmed: %v", a)
			}
		}
		if len(r.Waypoints) != 1 || len(r.Waypoints[0].Services) != 0 {
			t.Errorf("snapshots = %+v, want app/wp without services", r.Waypoints)
		}
		var warned bool
		for _, w := range r.Warnings {
			warned = warned || strings.Contains(w.String(), `WaypointIsNotReady: waypoint "app/wp" is not ready`)
		}
		if !warned {
			t.Errorf("no not-programmed warning in %v", r.Warnings)
		}
	}
}
