package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

func load(t *testing.T, name, data string) *manifest.Set {
	t.Helper()
	s, err := manifest.Load(name, []byte(data))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

func resolve(t *testing.T, s *manifest.Set, opts ResolveOptions, prev *Cluster) *Cluster {
	t.Helper()
	c, err := Resolve(s, opts, prev)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	return c
}

// resolveErr resolves expecting failure and returns "file:line: field: msg" lines.
func resolveErr(t *testing.T, s *manifest.Set, opts ResolveOptions) []string {
	t.Helper()
	c, err := Resolve(s, opts, nil)
	if err == nil || c != nil {
		t.Fatalf("want error, got cluster")
	}
	var l manifest.ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("error %T is not a manifest.ErrorList", err)
	}
	var out []string
	for _, e := range l {
		out = append(out, fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg))
	}
	return out
}

const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"

func deployment(name string, replicas int, extraSpec string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: demo}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
%[3]s      containers:
      - name: main
        image: docker.io/kennethreitz/httpbin
---
`, name, replicas, extraSpec)
}

func pod(name string, labels, extraSpec, ports string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: demo, labels: {%s}}
spec:
%s  containers:
  - name: main
    image: example.com/app
    ports: [%s]
---
`, name, labels, extraSpec, ports)
}

func service(name, spec string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: demo}\nspec:\n%s---\n", name, spec)
}

var replicaName = regexp.MustCompile(`^httpbin-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$`)

func TestResolveHTTPBinExample(t *testing.T) {
	set, err := manifest.LoadFiles("../../scenarios/examples/httpbin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := resolve(t, set, ResolveOptions{}, nil)
	again := resolve(t, set, ResolveOptions{}, nil)
	if !reflect.DeepEqual(c, again) {
		t.Fatal("resolution is not deterministic")
	}
	var got []string
	for _, p := range c.Pods {
		if p.OwnerName == "httpbin" && !replicaName.MatchString(p.Name) {
			t.Errorf("replica name %q", p.Name)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s %v", p.Namespace, p.OwnerName, p.Node, p.IP, p.Containers[0].Workload, p.Containers[0].Ports))
	}
	want := []string{
		"clients client node-0 198.19.0.3 idle []",
		"demo httpbin node-0 198.19.0.2 echo [{http 80 TCP http}]",
		"demo httpbin node-1 198.19.1.2 echo [{http 80 TCP http}]",
	}
	// The two httpbin replicas sort by their hashed names; compare as sets.
	if !sameSet(got, want) {
		t.Fatalf("pods:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	svc := c.Services[0]
	if svc.Key() != "demo/httpbin" || svc.ClusterIP != netip.MustParseAddr("198.18.16.20") || len(svc.Endpoints) != 2 ||
		svc.Endpoints[0].TargetPorts["http"] != 80 || svc.Ports[0].Port != 8000 {
		t.Errorf("httpbin service: %+v", svc)
	}
	hl := c.Services[1]
	if hl.Key() != "demo/httpbin-headless" || !hl.Headless || hl.ClusterIP.IsValid() || len(hl.Endpoints) != 2 ||
		hl.Endpoints[1].TargetPorts["http"] != 80 || hl.Ports[0].TargetPortName != "http" {
		t.Errorf("headless service: %+v", hl)
	}
	if hl.Endpoints[0].Pod > hl.Endpoints[1].Pod {
		t.Error("endpoints not sorted")
	}
	if n, _ := c.Namespace("demo"); n.Labels["kubernetes.io/metadata.name"] != "demo" {
		t.Errorf("namespace labels %v", n.Labels)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestResolveAmbientExampleDefersPolicy(t *testing.T) {
	set, err := manifest.LoadFiles("../../scenarios/examples/ambient-basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := resolve(t, set, ResolveOptions{}, nil)
	if len(c.Deferred) != 1 || c.Deferred[0].Kind != "AuthorizationPolicy" || c.Deferred[0].APIVersion != "security.istio.io/v1" ||
		c.Deferred[0].Source.Line == 0 {
		t.Fatalf("deferred: %+v", c.Deferred)
	}
	n, _ := c.Namespace("ambient-demo")
	if n.Labels["istio.io/dataplane-mode"] != "ambient" {
		t.Errorf("namespace labels %v", n.Labels)
	}
	sas := map[string]string{}
	for _, p := range c.Pods {
		sas[p.OwnerName] = p.ServiceAccount
	}
	if sas["sleep"] != "sleep" || sas["notsleep"] != "notsleep" || sas["httpbin"] != "httpbin" {
		t.Errorf("service accounts %v", sas)
	}
	if p := c.Services[0].Endpoints[0].TargetPorts["http"]; p != 8080 {
		t.Errorf("go-httpbin target port %d", p)
	}
}

func TestPlacement(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		opts  ResolveOptions
		nodes map[string]string // owner or pod name -> node
	}{
		{"single replicas spread", ns + deployment("a", 1, "") + deployment("b", 1, "") + deployment("c", 1, ""),
			ResolveOptions{Nodes: 2}, map[string]string{"a": "node-0", "b": "node-1", "c": "node-0"}},
		{"nodeName pins without consuming the counter", ns + deployment("a", 1, "      nodeName: node-2\n") + deployment("b", 1, ""),
			ResolveOptions{Nodes: 3}, map[string]string{"a": "node-2", "b": "node-0"}},
		{"nodeSelector", ns + deployment("a", 2, "      nodeSelector: {zone: b}\n"),
			ResolveOptions{Nodes: 3, NodeLabels: map[string]map[string]string{"node-1": {"zone": "b"}}}, map[string]string{"a": "node-1"}},
		{"hostname label", ns + pod("p", "app: p", "  nodeSelector: {kubernetes.io/hostname: node-1}\n", ""),
			ResolveOptions{Nodes: 2}, map[string]string{"p": "node-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := resolve(t, load(t, "p.yaml", tc.yaml), tc.opts, nil)
			for _, p := range c.Pods {
				owner := p.OwnerName
				if owner == "" {
					owner = p.Name
				}
				if want := tc.nodes[owner]; p.Node != want {
					t.Errorf("%s on %s, want %s", p.Name, p.Node, want)
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		opts ResolveOptions
		want []string
	}{
		{"unknown nodeName", ns + deployment("a", 1, "      nodeName: node-9\n"), ResolveOptions{},
			[]string{`r.yaml:14: spec.template.spec.nodeName: node "node-9" does not exist (nodes are node-0..node-1)`}},
		{"nodeSelector matches nothing", ns + pod("p", "app: p", "  nodeSelector: {gpu: \"true\"}\n", ""), ResolveOptions{},
			[]string{"r.yaml:9: spec.nodeSelector: matches no node"}},
		{"cluster IP outside plan", ns + service("s", "  clusterIP: 10.0.0.1\n  ports: [{port: 80}]\n"), ResolveOptions{},
			[]string{"r.yaml:9: spec.clusterIP: 10.0.0.1 is outside the Service range 198.18.16.0/20"}},
		{"cluster IP taken", ns + service("s", "  clusterIP: 198.18.16.10\n  ports: [{port: 80}]\n"), ResolveOptions{},
			[]string{"r.yaml:9: spec.clusterIP: 198.18.16.10 is already allocated to kube-dns"}},
		{"required endpoints", ns + service("s", "  selector: {app: nobody}\n  ports: [{port: 80}]\n"),
			ResolveOptions{RequireEndpoints: []string{"demo/s"}},
			[]string{"r.yaml:9: spec.selector: selects no pod, but endpoints of this Service are required"}},
		{"bad workload annotation", ns + strings.Replace(pod("p", "app: p", "", ""), "labels: {app: p}", "labels: {app: p}, annotations: {ambientlab.io/workload: sleepy}", 1),
			ResolveOptions{}, []string{`r.yaml:7: metadata.annotations["ambientlab.io/workload"]: unknown workload "sleepy" (want "echo" or "idle")`}},
		{"bad tcp-ports annotation", ns + strings.Replace(pod("p", "app: p", "", ""), "labels: {app: p}", "labels: {app: p}, annotations: {ambientlab.io/tcp-ports: \"90,x\"}", 1),
			ResolveOptions{}, []string{`r.yaml:7: metadata.annotations["ambientlab.io/tcp-ports"]: "x" is not a port number 1-65535`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := resolveErr(t, load(t, "r.yaml", tc.yaml), tc.opts)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestAddressExhaustion(t *testing.T) {
	plan := DefaultAddressPlan()
	plan.PerNodeBits = 30 // 4 addresses: network, gateway, one pod, broadcast
	got := resolveErr(t, load(t, "r.yaml", ns+deployment("a", 2, "")), ResolveOptions{Nodes: 1, Plan: plan})
	if len(got) != 1 || !strings.HasPrefix(got[0], "r.yaml:7: metadata.name: node-0 has no free pod address") {
		t.Fatalf("got %v", got)
	}
}

func TestNamedTargetPortsPerPod(t *testing.T) {
	y := ns + pod("p1", "app: web", "", "{name: http, containerPort: 8080}") +
		pod("p2", "app: web", "", "{name: http, containerPort: 9090}") +
		service("web", "  selector: {app: web}\n  ports:\n  - {name: web, port: 80, targetPort: http}\n  - {name: raw, port: 81}\n")
	c := resolve(t, load(t, "n.yaml", y), ResolveOptions{}, nil)
	eps := c.Services[0].Endpoints
	got := fmt.Sprintf("%s=%v %s=%v", eps[0].Pod, eps[0].TargetPorts, eps[1].Pod, eps[1].TargetPorts)
	if want := "demo/p1=map[raw:81 web:8080] demo/p2=map[raw:81 web:9090]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestExplicitClusterIP(t *testing.T) {
	y := ns + service("a", "  ports: [{port: 80}]\n") + service("b", "  clusterIP: 198.18.16.20\n  ports: [{port: 80}]\n")
	c := resolve(t, load(t, "c.yaml", y), ResolveOptions{}, nil)
	if a, b := c.Services[0].ClusterIP.String(), c.Services[1].ClusterIP.String(); a != "198.18.16.21" || b != "198.18.16.20" {
		t.Fatalf("a=%s b=%s: auto allocation must skip the explicit address", a, b)
	}
}

func TestStableAddressesWithPrev(t *testing.T) {
	set := load(t, "base.yaml", ns+deployment("a", 2, "")+deployment("b", 1, "")+
		service("a", "  selector: {app: a}\n  ports: [{port: 80}]\n")+service("b", "  selector: {app: b}\n  ports: [{port: 80}]\n"))
	c1 := resolve(t, set, ResolveOptions{}, nil)

	del, err := manifest.Decode("del.yaml", []byte(deployment("b", 1, "")+service("b", "  selector: {app: b}\n  ports: [{port: 80}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Remove(del); err != nil {
		t.Fatal(err)
	}
	add, err := manifest.Decode("add.yaml", []byte(deployment("c", 1, "")+service("c", "  selector: {app: c}\n  ports: [{port: 80}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Merge(add); err != nil {
		t.Fatal(err)
	}
	c2 := resolve(t, set, ResolveOptions{}, c1)

	used := map[netip.Addr]bool{}
	for _, p := range c1.Pods {
		used[p.IP] = true
		if p.OwnerName == "a" {
			q, ok := c2.Pod(p.Namespace, p.Name)
			if !ok || q.IP != p.IP || q.Node != p.Node || q.UID != p.UID {
				t.Errorf("pod %s moved: %+v -> %+v", p.Name, p, q)
			}
		}
	}
	for _, s := range c1.Services {
		used[s.ClusterIP] = true
	}
	for _, p := range c2.Pods {
		if p.OwnerName == "c" && used[p.IP] {
			t.Errorf("new pod reuses freed address %s", p.IP)
		}
	}
	for _, s := range c2.Services {
		switch s.Name {
		case "a":
			if s.ClusterIP != c1.Services[0].ClusterIP {
				t.Errorf("service a VIP changed to %s", s.ClusterIP)
			}
		case "c":
			if used[s.ClusterIP] {
				t.Errorf("new service reuses freed VIP %s", s.ClusterIP)
			}
		}
	}
	// Round-robin continues from the previous counter: a, a, b used 3 slots.
	for _, p := range c2.Pods {
		if p.OwnerName == "c" && p.Node != "node-1" {
			t.Errorf("c placed on %s, want node-1", p.Node)
		}
	}
}

func TestPodIdentityFields(t *testing.T) {
	c := resolve(t, load(t, "p.yaml", ns+pod("web", "app: web", "  hostname: web-0\n  subdomain: web\n", "")), ResolveOptions{}, nil)
	p := c.Pods[0]
	if p.Hostname != "web-0" || p.Subdomain != "web" || p.ServiceAccount != "default" || p.OwnerKind != "" {
		t.Fatalf("pod %+v", p)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(p.UID) {
		t.Errorf("UID %q is not a v5 UUID", p.UID)
	}
	if uidFor("x", "demo/web") == uidFor("y", "demo/web") {
		t.Error("UID ignores the cluster name")
	}
}
