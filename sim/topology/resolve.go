package topology

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ResolveOptions configures Resolve. Zero values take defaults (see withDefaults).
type ResolveOptions struct {
	ClusterName   string                       // default "ambientlab"
	Nodes         int                          // default 2 (cross-node traffic is the interesting case)
	Plan          AddressPlan                  // default DefaultAddressPlan()
	ClusterDomain string                       // default "cluster.local"
	TrustDomain   string                       // default "cluster.local"
	NodeLabels    map[string]map[string]string // node name -> extra labels
	// RequireEndpoints lists Services ("namespace/name") that must select at
	// least one pod, e.g. because a scenario step sends traffic to them. A
	// Service that selects nothing is otherwise only a warning.
	RequireEndpoints []string
}

func (o ResolveOptions) withDefaults() ResolveOptions {
	if o.ClusterName == "" {
		o.ClusterName = "ambientlab"
	}
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	if !o.Plan.PodCIDR.IsValid() {
		o.Plan = DefaultAddressPlan()
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.TrustDomain == "" {
		o.TrustDomain = "cluster.local"
	}
	return o
}

// allocState holds monotonic counters: placement round-robin, the next pod
// host index per node and the next Service VIP index. Freed addresses are
// never handed out again within a run.
type allocState struct {
	placed  int
	nextPod []int
	nextVIP int
}

func (a allocState) clone(nodes int) allocState {
	next := make([]int, nodes)
	copy(next, a.nextPod)
	return allocState{placed: a.placed, nextPod: next, nextVIP: a.nextVIP}
}

// Resolve materializes a validated manifest set into a Cluster: nodes
// node-0..N-1, Deployment replicas and Pods placed round-robin over nodes
// (unless pinned by nodeName or nodeSelector) with addresses from the plan,
// Services with VIPs and endpoints, and Istio/Gateway API objects listed as
// Deferred. With prev (the cluster before an apply or delete at run time),
// surviving pods keep their node, IP and UID and surviving Services their VIP.
// Errors are a manifest.ErrorList with file:line:field; on error nothing is
// returned.
func Resolve(set *manifest.Set, opts ResolveOptions, prev *Cluster) (*Cluster, error) {
	opts = opts.withDefaults()
	r := &resolver{opts: opts, set: set, prev: prev}
	if opts.Nodes < 1 || opts.Nodes > 256 {
		return nil, manifest.ErrorList{{Msg: fmt.Sprintf("nodes: %d out of range 1-256", opts.Nodes)}}
	}
	if err := set.RequireEndpoints(opts.RequireEndpoints...); err != nil {
		r.addErr(err)
	}
	c := &Cluster{Name: opts.ClusterName, ClusterDomain: opts.ClusterDomain, TrustDomain: opts.TrustDomain, Plan: opts.Plan}
	if prev != nil {
		c.alloc = prev.alloc.clone(opts.Nodes)
	} else {
		c.alloc = allocState{nextPod: make([]int, opts.Nodes)}
	}
	r.c = c
	r.objects = r.waypointObjects()
	r.nodes()
	r.namespacesAndAccounts()
	r.pods()
	r.services()
	r.deferred()
	if len(r.errs) > 0 {
		return nil, r.errs.Sort()
	}
	return c, nil
}

type resolver struct {
	opts ResolveOptions
	set  *manifest.Set
	// objects are set's objects plus what waypoint Gateways deploy
	// (waypoint.go), in input order.
	objects []manifest.Object
	prev    *Cluster
	c       *Cluster
	errs    manifest.ErrorList
}

func (r *resolver) addErr(err error) {
	if l, ok := err.(manifest.ErrorList); ok {
		r.errs = append(r.errs, l...)
		return
	}
	r.errs = append(r.errs, &manifest.Error{Msg: err.Error()})
}

func (r *resolver) nodes() {
	for i := 0; i < r.opts.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		l := map[string]string{"kubernetes.io/hostname": name}
		for k, v := range r.opts.NodeLabels[name] {
			l[k] = v
		}
		r.c.Nodes = append(r.c.Nodes, Node{Name: name, Index: i, IP: r.opts.Plan.NodeIP(i),
			PodCIDR: r.opts.Plan.NodePodCIDR(i), Labels: l})
	}
	var unknown []string
	for name := range r.opts.NodeLabels {
		if _, ok := r.nodeIndex(name); !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, n := range unknown {
		r.errs = append(r.errs, &manifest.Error{Msg: fmt.Sprintf("node labels given for unknown node %q (nodes are node-0..node-%d)", n, r.opts.Nodes-1)})
	}
}

func (r *resolver) nodeIndex(name string) (int, bool) {
	var i int
	if _, err := fmt.Sscanf(name, "node-%d", &i); err != nil || i < 0 || i >= r.opts.Nodes || name != fmt.Sprintf("node-%d", i) {
		return 0, false
	}
	return i, true
}

func (r *resolver) namespacesAndAccounts() {
	nsLabels := map[string]map[string]string{}
	for _, ns := range manifest.BuiltinNamespaces {
		nsLabels[ns] = map[string]string{}
	}
	sas := map[ServiceAccount]bool{}
	for _, o := range r.objects {
		switch t := o.Obj.(type) {
		case *corev1.Namespace:
			nsLabels[t.Name] = copyMap(t.Labels)
		case *corev1.ServiceAccount:
			sas[ServiceAccount{Namespace: o.Namespace, Name: o.Name}] = true
		}
	}
	for name, l := range nsLabels {
		if l == nil {
			l = map[string]string{}
		}
		l["kubernetes.io/metadata.name"] = name // set by the API server on every Namespace
		r.c.Namespaces = append(r.c.Namespaces, Namespace{Name: name, Labels: l})
		sas[ServiceAccount{Namespace: name, Name: manifest.DefaultServiceAccount}] = true
	}
	sort.Slice(r.c.Namespaces, func(i, j int) bool { return r.c.Namespaces[i].Name < r.c.Namespaces[j].Name })
	for sa := range sas {
		r.c.ServiceAccts = append(r.c.ServiceAccts, sa)
	}
	sort.Slice(r.c.ServiceAccts, func(i, j int) bool {
		a, b := r.c.ServiceAccts[i], r.c.ServiceAccts[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
}

func (r *resolver) deferred() {
	for _, o := range r.set.Objects {
		if o.Class != manifest.ClassDeferred {
			continue
		}
		r.c.Deferred = append(r.c.Deferred, ObjectRef{APIVersion: o.GVK.GroupVersion().String(), Kind: o.GVK.Kind,
			Namespace: o.Namespace, Name: o.Name, Source: sourceOf(o)})
	}
}

func sourceOf(o manifest.Object) Source {
	return Source{File: o.Source.File, Line: o.Source.Line, Doc: o.Source.Doc}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// uidFor derives a stable UUIDv5-style (SHA-1, RFC 4122 variant) pod UID
// from the cluster name and pod key, so runs are reproducible.
func uidFor(cluster, key string) string {
	sum := sha1.Sum([]byte("ambientlab.io/pod-uid\x00" + cluster + "\x00" + key))
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// safeAlphabet is Kubernetes' rand.SafeEncodeString alphabet (no vowels, no
// look-alike characters), used for pod-template-hash and name suffixes.
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func safeEncode(seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	out := make([]byte, n)
	for i := range out {
		out[i] = safeAlphabet[int(sum[i])%len(safeAlphabet)]
	}
	return string(out)
}

// templateHash is a deterministic 10-character pod-template-hash: the same
// template yields the same replica names, a changed template new ones (as a
// rollout would).
func templateHash(d *appsv1.Deployment) string {
	b, _ := json.Marshal(d.Spec.Template) // maps marshal sorted: deterministic
	return safeEncode(d.Namespace+"/"+d.Name+"\x00"+string(b), 10)
}

func replicaNames(d *appsv1.Deployment, hash string, n int) []string {
	names := make([]string, 0, n)
	seen := map[string]bool{}
	for i := 0; len(names) < n; i++ {
		name := d.Name + "-" + hash + "-" + safeEncode(fmt.Sprintf("%s/%s/%s/%d", d.Namespace, d.Name, hash, i), 5)
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// hostIndexLimit is the number of pod addresses per node: the node's pod
// CIDR minus network, gateway (.1) and broadcast.
func (r *resolver) hostIndexLimit() int { return 1<<(32-r.opts.Plan.PerNodeBits) - 3 }

func (r *resolver) serviceIP(s *corev1.Service) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s.Spec.ClusterIP)
	return a, err == nil
}

// intOrName splits a targetPort.
func intOrName(tp intstr.IntOrString, port int32) (uint16, string) {
	if tp.Type == intstr.String {
		return 0, tp.StrVal
	}
	if tp.IntVal == 0 {
		return uint16(port), ""
	}
	return uint16(tp.IntVal), ""
}

// selects reports whether a Service selector matches pod labels; an empty
// selector selects nothing (a selector-less Service has manual endpoints).
func selects(selector, podLabels map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(podLabels))
}

func protocolOf(p corev1.Protocol) Protocol {
	if p == "" {
		return ProtocolTCP
	}
	return Protocol(strings.ToUpper(string(p)))
}

// pods expands Deployments and Pods in input order, so placement follows the
// file: two single-replica Deployments land on different nodes.
func (r *resolver) pods() {
	for _, o := range r.objects {
		t, ok := o.PodTemplate()
		if !ok {
			continue
		}
		switch obj := o.Obj.(type) {
		case *appsv1.Deployment:
			n := 1
			if obj.Spec.Replicas != nil {
				n = int(*obj.Spec.Replicas)
			}
			hash := templateHash(obj)
			podLabels := copyMap(t.Labels)
			podLabels["pod-template-hash"] = hash
			for _, name := range replicaNames(obj, hash, n) {
				r.pod(o, t, name, podLabels, "Deployment", obj.Name)
			}
		case *corev1.Pod:
			r.pod(o, t, obj.Name, copyMap(t.Labels), "", "")
		}
	}
	sort.Slice(r.c.Pods, func(i, j int) bool { return r.c.Pods[i].Key() < r.c.Pods[j].Key() })
}

func (r *resolver) pod(o manifest.Object, t manifest.PodTemplate, name string, podLabels map[string]string, ownerKind, ownerName string) {
	spec := t.Spec
	p := Pod{Namespace: o.Namespace, Name: name, Labels: podLabels, Annotations: copyMap(t.Annotations),
		ServiceAccount: spec.ServiceAccountName, Hostname: spec.Hostname, Subdomain: spec.Subdomain,
		OwnerKind: ownerKind, OwnerName: ownerName}
	if p.ServiceAccount == "" {
		p.ServiceAccount = spec.DeprecatedServiceAccount
	}
	if p.ServiceAccount == "" {
		p.ServiceAccount = manifest.DefaultServiceAccount
	}
	if p.Hostname == "" {
		p.Hostname = name
	}
	containers, ok := r.containers(o, t)
	if !ok {
		return
	}
	p.Containers = containers
	if old, found := r.prevPod(p.Key()); found {
		if _, ok := r.nodeIndex(old.Node); !ok {
			r.errs = append(r.errs, o.ErrorAt("", "pod %s runs on %s, which no longer exists", p.Key(), old.Node))
			return
		}
		p.Node, p.IP, p.UID = old.Node, old.IP, old.UID
		r.c.Pods = append(r.c.Pods, p)
		return
	}
	node, ok := r.place(o, t)
	if !ok {
		return
	}
	if r.c.alloc.nextPod[node] >= r.hostIndexLimit() {
		r.errs = append(r.errs, o.ErrorAt("metadata.name", "node-%d has no free pod address for %s (plan allows %d per node)",
			node, p.Key(), r.hostIndexLimit()))
		return
	}
	p.Node = r.c.Nodes[node].Name
	p.IP = r.opts.Plan.PodIP(node, r.c.alloc.nextPod[node])
	r.c.alloc.nextPod[node]++
	p.UID = uidFor(r.opts.ClusterName, p.Key())
	r.c.Pods = append(r.c.Pods, p)
}

func (r *resolver) prevPod(key string) (Pod, bool) {
	if r.prev == nil {
		return Pod{}, false
	}
	for _, p := range r.prev.Pods {
		if p.Key() == key {
			return p, true
		}
	}
	return Pod{}, false
}

// place picks a node: nodeName pins; otherwise round-robin with the
// cluster-wide counter over the nodes matching nodeSelector (all by default).
func (r *resolver) place(o manifest.Object, t manifest.PodTemplate) (int, bool) {
	if n := t.Spec.NodeName; n != "" {
		i, ok := r.nodeIndex(n)
		if !ok {
			r.errs = append(r.errs, o.ErrorAt(t.SpecPath+".nodeName", "node %q does not exist (nodes are node-0..node-%d)", n, r.opts.Nodes-1))
			return 0, false
		}
		if !labels.SelectorFromSet(t.Spec.NodeSelector).Matches(labels.Set(r.c.Nodes[i].Labels)) {
			r.errs = append(r.errs, o.ErrorAt(t.SpecPath+".nodeSelector", "does not match node %s named in nodeName", n))
			return 0, false
		}
		return i, true
	}
	var candidates []int
	sel := labels.SelectorFromSet(t.Spec.NodeSelector)
	for i, n := range r.c.Nodes {
		if sel.Matches(labels.Set(n.Labels)) {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		r.errs = append(r.errs, o.ErrorAt(t.SpecPath+".nodeSelector", "matches no node"))
		return 0, false
	}
	i := candidates[r.c.alloc.placed%len(candidates)]
	r.c.alloc.placed++
	return i, true
}

// workloadAnnotation reads an ambientlab annotation from the pod template,
// falling back to the object's own metadata (handy on Deployments).
func workloadAnnotation(o manifest.Object, t manifest.PodTemplate, key string) (value, field string, ok bool) {
	if v, ok := t.Annotations[key]; ok {
		prefix := "metadata"
		if t.SpecPath != "spec" {
			prefix = "spec.template.metadata"
		}
		return v, prefix + `.annotations["` + key + `"]`, true
	}
	if d, isDep := o.Obj.(*appsv1.Deployment); isDep {
		if v, ok := d.Annotations[key]; ok {
			return v, `metadata.annotations["` + key + `"]`, true
		}
	}
	return "", "", false
}

func (r *resolver) containers(o manifest.Object, t manifest.PodTemplate) ([]Container, bool) {
	var forced WorkloadKind
	if v, field, ok := workloadAnnotation(o, t, AnnotationWorkload); ok {
		k, err := ParseWorkloadKind(v)
		if err != nil {
			r.errs = append(r.errs, o.ErrorAt(field, "%v", err))
			return nil, false
		}
		forced = k
	}
	tcpPorts := map[uint16]bool{}
	if v, field, ok := workloadAnnotation(o, t, AnnotationTCPPorts); ok {
		ports, err := parseTCPPorts(v)
		if err != nil {
			r.errs = append(r.errs, o.ErrorAt(field, "%v", err))
			return nil, false
		}
		tcpPorts = ports
	}
	var out []Container
	for _, c := range t.Spec.Containers {
		kind, rule := workloadFor(forced, c.Image, c.Command)
		ct := Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, Workload: kind}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				if ct.Env == nil {
					ct.Env = map[string]string{}
				}
				ct.Env[e.Name] = e.Value
			}
		}
		for _, p := range c.Ports {
			port := uint16(p.ContainerPort)
			ct.Ports = append(ct.Ports, ContainerPort{Name: p.Name, Port: port, Protocol: protocolOf(p.Protocol),
				AppProtocol: AppProtocolFor(p.Name, tcpPorts[port])})
		}
		if len(c.Ports) == 0 && kind == WorkloadEcho && rule != nil {
			for _, port := range rule.DefaultPorts {
				ct.Ports = append(ct.Ports, ContainerPort{Name: "http", Port: port, Protocol: ProtocolTCP,
					AppProtocol: AppProtocolFor("http", tcpPorts[port])})
			}
		}
		out = append(out, ct)
	}
	return out, true
}

// services assigns VIPs (explicit in-plan clusterIP, the previous VIP, or the
// next free one) and computes endpoints from the resolved pods.
func (r *resolver) services() {
	plan := r.opts.Plan
	taken := map[netip.Addr]string{plan.DNSIP: "kube-dns"}
	var svcs []manifest.Object
	for _, o := range r.objects {
		s, ok := o.Obj.(*corev1.Service)
		if !ok {
			continue
		}
		svcs = append(svcs, o)
		if a, ok := r.serviceIP(s); ok {
			switch {
			case !plan.ServiceCIDR.Contains(a) || a == plan.ServiceCIDR.Addr():
				r.errs = append(r.errs, o.ErrorAt("spec.clusterIP", "%s is outside the Service range %s", a, plan.ServiceCIDR))
			case taken[a] != "" && !(a == plan.DNSIP && o.Namespace == "kube-system" && o.Name == "kube-dns"):
				// The DNS VIP is reserved for the cluster DNS Service the simulator adds.
				r.errs = append(r.errs, o.ErrorAt("spec.clusterIP", "%s is already allocated to %s", a, taken[a]))
			default:
				taken[a] = o.Namespace + "/" + o.Name
			}
		}
	}
	prevVIP := map[string]netip.Addr{}
	if r.prev != nil {
		for _, s := range r.prev.Services {
			if !s.Headless {
				prevVIP[s.Key()] = s.ClusterIP
			}
		}
	}
	for _, o := range svcs {
		s := o.Obj.(*corev1.Service)
		svc := Service{Namespace: o.Namespace, Name: o.Name, Selector: copyMap(s.Spec.Selector),
			Labels: copyMap(s.Labels), Source: sourceOf(o), Headless: s.Spec.ClusterIP == corev1.ClusterIPNone}
		if a, ok := r.serviceIP(s); ok {
			svc.ClusterIP = a
		} else if !svc.Headless {
			svc.ClusterIP = r.allocVIP(svc.Key(), prevVIP, taken)
		}
		for _, sp := range s.Spec.Ports {
			port := ServicePort{Name: sp.Name, Port: uint16(sp.Port), Protocol: protocolOf(sp.Protocol)}
			if sp.AppProtocol != nil {
				port.AppProtocol = *sp.AppProtocol
			}
			port.TargetPort, port.TargetPortName = intOrName(sp.TargetPort, sp.Port)
			svc.Ports = append(svc.Ports, port)
		}
		svc.Endpoints = r.endpoints(svc)
		r.c.Services = append(r.c.Services, svc)
	}
	sort.Slice(r.c.Services, func(i, j int) bool { return r.c.Services[i].Key() < r.c.Services[j].Key() })
}

func (r *resolver) allocVIP(key string, prevVIP map[string]netip.Addr, taken map[netip.Addr]string) netip.Addr {
	if a, ok := prevVIP[key]; ok && taken[a] == "" {
		taken[a] = key
		return a
	}
	for {
		a := r.opts.Plan.ServiceIP(r.c.alloc.nextVIP)
		r.c.alloc.nextVIP++
		if !r.opts.Plan.ServiceCIDR.Contains(a) {
			r.errs = append(r.errs, &manifest.Error{Kind: "Service", Name: key, Msg: "Service range " + r.opts.Plan.ServiceCIDR.String() + " is exhausted"})
			return netip.Addr{}
		}
		if taken[a] == "" && !reservedByPrev(a, prevVIP) {
			taken[a] = key
			return a
		}
	}
}

// reservedByPrev keeps a VIP of a still-existing previous Service from being
// handed to a new one before that Service is processed.
func reservedByPrev(a netip.Addr, prevVIP map[string]netip.Addr) bool {
	for _, v := range prevVIP {
		if v == a {
			return true
		}
	}
	return false
}

func (r *resolver) endpoints(svc Service) []Endpoint {
	var eps []Endpoint
	for _, p := range r.c.Pods {
		if p.Namespace != svc.Namespace || !selects(svc.Selector, p.Labels) {
			continue
		}
		ep := Endpoint{Pod: p.Key(), IP: p.IP, Node: p.Node, TargetPorts: map[string]uint16{}}
		for _, sp := range svc.Ports {
			if sp.TargetPortName == "" {
				ep.TargetPorts[sp.PortKey()] = sp.TargetPort
				continue
			}
			if n, ok := namedPort(p, sp.TargetPortName, sp.Protocol); ok {
				ep.TargetPorts[sp.PortKey()] = n
			}
		}
		eps = append(eps, ep)
	}
	return eps // r.c.Pods is sorted by key already
}

func namedPort(p Pod, name string, proto Protocol) (uint16, bool) {
	for _, c := range p.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name && cp.Protocol == proto {
				return cp.Port, true
			}
		}
	}
	return 0, false
}
