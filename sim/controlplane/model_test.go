package controlplane

import (
	"slices"
	"testing"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	state "github.com/ambientlab/ambientlab/dataplane/workloadapi"
	"github.com/ambientlab/ambientlab/dataplane/xds"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

const scenario = `
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: mesh}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: mesh}
spec:
  replicas: 1
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin, version: v1}}
    spec:
      serviceAccountName: httpbin
      containers:
      - name: httpbin
        image: kennethreitz/httpbin
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: mesh}
spec:
  selector: {app: httpbin}
  ports:
  - {name: http, port: 8000, targetPort: http}
  - {name: dns, port: 53, targetPort: 53, protocol: UDP}
---
apiVersion: v1
kind: Pod
metadata: {name: opted-out, namespace: mesh, labels: {istio.io/dataplane-mode: none}}
spec:
  containers: [{name: c, image: curlimages/curl}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: plain}
spec:
  containers: [{name: c, image: curlimages/curl}]
---
apiVersion: v1
kind: Pod
metadata: {name: enrolled, namespace: plain, labels: {istio.io/dataplane-mode: ambient}}
spec:
  containers: [{name: c, image: curlimages/curl}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-plain, namespace: mesh}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules: [{from: [{source: {namespaces: [plain]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: waypoint-only, namespace: mesh}
spec:
  targetRefs: [{kind: Service, group: "", name: httpbin}]
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: mesh}
spec:
  mtls: {mode: STRICT}
`

// A namespace-wide STRICT PeerAuthentication without port exceptions is
// referenced as the mesh's static strict DENY (istio `authorization.go`).
const staticStrict = "istio-system/istio_converted_static_strict"

func build(t *testing.T) ([]*workloadapi.Address, []*security.Authorization, *topology.Cluster) {
	t.Helper()
	set, err := manifest.Load("scenario.yaml", []byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{Nodes: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs, auths, _ := Build(c, set, "istio-system")
	return addrs, auths, c
}

func workloadNamed(addrs []*workloadapi.Address, ns, prefix string) *workloadapi.Workload {
	for _, a := range addrs {
		if w := a.GetWorkload(); w != nil && w.Namespace == ns && len(w.Name) >= len(prefix) && w.Name[:len(prefix)] == prefix {
			return w
		}
	}
	return nil
}

func TestBuildWorkloads(t *testing.T) {
	addrs, _, c := build(t)
	httpbinSvc := "mesh/httpbin.mesh.svc." + c.ClusterDomain
	tests := []struct {
		ns, name     string
		tunnel       workloadapi.TunnelProtocol
		services     map[string]map[uint32]uint32
		policies     []string
		sa, workload string
	}{
		{"mesh", "httpbin", workloadapi.TunnelProtocol_HBONE, map[string]map[uint32]uint32{httpbinSvc: {8000: 8080}},
			[]string{"mesh/allow-plain", staticStrict}, "httpbin", "httpbin"},
		{"mesh", "opted-out", workloadapi.TunnelProtocol_NONE, nil, []string{staticStrict}, "default", "opted-out"},
		{"plain", "client", workloadapi.TunnelProtocol_NONE, nil, nil, "default", "client"},
		{"plain", "enrolled", workloadapi.TunnelProtocol_HBONE, nil, nil, "default", "enrolled"},
	}
	for _, tt := range tests {
		t.Run(tt.ns+"/"+tt.name, func(t *testing.T) {
			w := workloadNamed(addrs, tt.ns, tt.name)
			if w == nil {
				t.Fatal("no workload")
			}
			if w.TunnelProtocol != tt.tunnel {
				t.Errorf("tunnel = %v, want %v", w.TunnelProtocol, tt.tunnel)
			}
			got := map[string]map[uint32]uint32{}
			for k, pl := range w.Services {
				got[k] = map[uint32]uint32{}
				for _, p := range pl.Ports {
					got[k][p.ServicePort] = p.TargetPort
				}
			}
			if len(got) != len(tt.services) || (tt.services != nil && !mapsEqual(got[httpbinSvc], tt.services[httpbinSvc])) {
				t.Errorf("services = %v, want %v (UDP ports dropped, named port resolved)", got, tt.services)
			}
			if !slices.Equal(w.AuthorizationPolicies, tt.policies) {
				t.Errorf("policies = %v, want %v", w.AuthorizationPolicies, tt.policies)
			}
			if w.ServiceAccount != tt.sa || w.WorkloadName != tt.workload || w.TrustDomain != c.TrustDomain ||
				w.ClusterId != ClusterID || w.Node == "" || w.Uid != WorkloadUID(w.Namespace, w.Name) {
				t.Errorf("identity fields wrong: %+v", w)
			}
		})
	}
	if w := workloadNamed(addrs, "mesh", "httpbin"); w.CanonicalName != "httpbin" || w.CanonicalRevision != "v1" {
		t.Errorf("canonical = %s/%s", w.CanonicalName, w.CanonicalRevision)
	}
}

func mapsEqual(a, b map[uint32]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBuildServicesAndPolicies(t *testing.T) {
	addrs, auths, c := build(t)
	var svc *workloadapi.Service
	for _, a := range addrs {
		if s := a.GetService(); s != nil && s.Name == "httpbin" {
			svc = s
		}
	}
	if svc == nil || svc.Hostname != "httpbin.mesh.svc."+c.ClusterDomain || len(svc.Addresses) != 1 ||
		svc.Addresses[0].Network != "" || len(svc.Ports) != 1 || svc.Ports[0].ServicePort != 8000 || svc.Ports[0].TargetPort != 0 {
		t.Fatalf("service = %+v", svc)
	}
	var names []string
	for _, a := range auths {
		names = append(names, xds.AuthorizationName(a))
	}
	// targetRefs policies go to the waypoint only; STRICT becomes a DENY.
	want := []string{staticStrict, "mesh/allow-plain"}
	if !slices.Equal(names, want) {
		t.Fatalf("authorizations = %v, want %v", names, want)
	}
	for _, a := range auths {
		if xds.AuthorizationName(a) == staticStrict && a.Action != security.Action_DENY {
			t.Errorf("PeerAuthentication STRICT converted to %v, want DENY", a.Action)
		}
	}
	// The whole output is accepted by the data plane edge.
	snap, err := state.FromWire(addrs, auths)
	if err != nil {
		t.Fatalf("FromWire rejected Build output: %v", err)
	}
	if !slices.IsSortedFunc(addrs, func(a, b *workloadapi.Address) int {
		return compare(xds.AddressName(a), xds.AddressName(b))
	}) {
		t.Errorf("addresses not sorted by resource name")
	}
	if eps := snap.Endpoints(state.ServiceKey{Namespace: "mesh", Hostname: svc.Hostname}); len(eps) != 1 {
		t.Errorf("endpoints = %v", eps)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
