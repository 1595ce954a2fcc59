package topology

import (
	"strings"
	"testing"
)

const waypointGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`

func TestWaypointDeployment(t *testing.T) {
	c := resolve(t, load(t, "w.yaml", ns+waypointGateway), ResolveOptions{}, nil)
	var sa bool
	for _, a := range c.ServiceAccts {
		sa = sa || (a.Namespace == "demo" && a.Name == "waypoint")
	}
	if !sa {
		t.Errorf("no ServiceAccount demo/waypoint in %v", c.ServiceAccts)
	}
	var pods []Pod
	for _, p := range c.Pods {
		if IsWaypointPod(p) {
			pods = append(pods, p)
		}
	}
	if len(pods) != 1 {
		t.Fatalf("waypoint pods = %+v, want 1", pods)
	}
	p := pods[0]
	if !strings.HasPrefix(p.Name, "waypoint-") || p.OwnerKind != "Deployment" || p.OwnerName != "waypoint" || p.ServiceAccount != "waypoint" {
		t.Errorf("pod = %s owner %s/%s sa %s", p.Name, p.OwnerKind, p.OwnerName, p.ServiceAccount)
	}
	for k, v := range map[string]string{LabelGatewayName: "waypoint", LabelComponent: ComponentWaypoint, "istio.io/dataplane-mode": "none"} {
		if p.Labels[k] != v {
			t.Errorf("pod label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if len(p.Containers) != 1 || p.Containers[0].Image != WaypointImage {
		t.Errorf("containers = %+v", p.Containers)
	}
	var svc *Service
	for i := range c.Services {
		if c.Services[i].Key() == "demo/waypoint" {
			svc = &c.Services[i]
		}
	}
	if svc == nil {
		t.Fatal("no Service demo/waypoint")
	}
	if !svc.ClusterIP.IsValid() || len(svc.Endpoints) != 1 || svc.Endpoints[0].Pod != p.Key() {
		t.Errorf("service VIP %v endpoints %+v", svc.ClusterIP, svc.Endpoints)
	}
	var ports []string
	for _, sp := range svc.Ports {
		ports = append(ports, sp.Name+"/"+itoa(int(sp.Port))+"/"+sp.AppProtocol)
	}
	if got := strings.Join(ports, " "); got != "mesh/15008/ status-port/15021/ metrics/15020/http-monitoring" {
		t.Errorf("service ports = %s", got)
	}
}

func TestWaypointReplicasFromParametersRef(t *testing.T) {
	set := load(t, "w.yaml", ns+`apiVersion: v1
kind: ConfigMap
metadata: {name: wp, namespace: demo}
data:
  deployment: |
    spec:
      replicas: 2
---
`+strings.Replace(waypointGateway, "spec:\n", "spec:\n  infrastructure:\n    parametersRef: {group: \"\", kind: ConfigMap, name: wp}\n", 1))
	c := resolve(t, set, ResolveOptions{}, nil)
	nodes := map[string]bool{}
	n := 0
	for _, p := range c.Pods {
		if IsWaypointPod(p) {
			n++
			nodes[p.Node] = true
		}
	}
	if n != 2 || len(nodes) != 2 {
		t.Fatalf("waypoint pods = %d on %d nodes, want 2 spread over 2", n, len(nodes))
	}
}

func TestWaypointNameCollision(t *testing.T) {
	set := load(t, "w.yaml", ns+waypointGateway+`---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: demo}
spec:
  selector: {app: x}
  ports: [{port: 80}]
`)
	errs := resolveErr(t, set, ResolveOptions{})
	if len(errs) != 1 || !strings.Contains(errs[0], "w.yaml:7: metadata.name: the waypoint's Service demo/waypoint collides with the Service defined at w.yaml:12") {
		t.Fatalf("errors = %q", errs)
	}
}

// The legacy istioctl form named the Gateway after the service account it
// served; Istio then deployed it as "<gateway>-istio-waypoint", so no clash.
func TestLegacyWaypointDeployedName(t *testing.T) {
	c := resolve(t, load(t, "w.yaml", ns+`apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: demo}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: api, namespace: demo, annotations: {istio.io/for-service-account: api}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: ALL}]
`), ResolveOptions{}, nil)
	var pod Pod
	for _, p := range c.Pods {
		if IsWaypointPod(p) {
			pod = p
		}
	}
	if pod.OwnerName != "api-istio-waypoint" || pod.ServiceAccount != "api-istio-waypoint" || pod.Labels[LabelGatewayName] != "api" {
		t.Fatalf("legacy waypoint pod: owner %q sa %q gateway-name %q", pod.OwnerName, pod.ServiceAccount, pod.Labels[LabelGatewayName])
	}
}
