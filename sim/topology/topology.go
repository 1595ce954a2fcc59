// Package topology is the resolved, typed model of a simulated cluster: what the
// backends (netns, kind) bring up and what the control plane computes mesh config
// from. Raw manifests are decoded and validated elsewhere (package scenarios/manifest)
// and resolved into these types; nothing here parses YAML or touches the kernel.
//
// Addresses are derived deterministically from indices (see Plan) so that the same
// input always yields the same cluster.
package topology

import (
	"net/netip"
	"sort"
)

// Cluster is a fully resolved cluster: every pod has a node and an IP, every
// ClusterIP Service a VIP, every Service its endpoints.
type Cluster struct {
	Name          string
	ClusterDomain string // "cluster.local"
	TrustDomain   string // "cluster.local"
	Plan          AddressPlan
	Nodes         []Node
	Namespaces    []Namespace
	ServiceAccts  []ServiceAccount
	Pods          []Pod
	Services      []Service
	// Deferred holds objects that were decoded and validated strictly but whose
	// enforcement belongs to later capabilities (Istio, Gateway API kinds). They
	// are reported as "accepted, not yet enforced", never dropped silently.
	Deferred []ObjectRef

	// alloc remembers address and placement counters so that resolving again
	// with this Cluster as prev never reuses a freed address (see Resolve).
	alloc allocState
}

// ObjectRef names any Kubernetes-style object plus where it came from.
type ObjectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	Source     Source
}

// Source locates an object in its input file, for error messages and reports.
type Source struct {
	File string
	Line int // 1-based line of the document's first line
	Doc  int // 1-based document index within the file
}

// Node is a simulated Kubernetes node: one network namespace on the fabric.
type Node struct {
	Name    string
	Index   int // 0-based; addresses derive from it
	IP      netip.Addr
	PodCIDR netip.Prefix
	Labels  map[string]string
}

// Namespace is a Kubernetes Namespace with its labels (istio.io/dataplane-mode, ...).
type Namespace struct {
	Name   string
	Labels map[string]string
}

// ServiceAccount is a Kubernetes ServiceAccount; it maps to a SPIFFE identity.
type ServiceAccount struct {
	Namespace string
	Name      string
}

// Pod is one pod replica: one network namespace joined to its node by a veth.
type Pod struct {
	Namespace      string
	Name           string
	UID            string
	Node           string
	IP             netip.Addr
	ServiceAccount string
	Labels         map[string]string
	Annotations    map[string]string
	Hostname       string // spec.hostname, or Name
	Subdomain      string // spec.subdomain (headless Service records)
	// OwnerKind/OwnerName identify the controller that produced the replica
	// ("Deployment"/"httpbin"), empty for bare Pods.
	OwnerKind  string
	OwnerName  string
	Containers []Container
	// System marks mesh components (ztunnel, istiod, dns) the simulator adds itself.
	System bool
}

// Key returns "namespace/name".
func (p Pod) Key() string { return p.Namespace + "/" + p.Name }

// Container is one container; the simulator runs it as one OS process.
type Container struct {
	Name     string
	Image    string
	Command  []string
	Args     []string
	Env      map[string]string
	Ports    []ContainerPort
	Workload WorkloadKind
}

// ContainerPort is a declared container port.
type ContainerPort struct {
	Name     string
	Port     uint16
	Protocol Protocol
	// AppProtocol is the application protocol the workload speaks on the port:
	// "http" (HTTP/1.1 + h2c) or "tcp" (raw echo).
	AppProtocol AppProtocol
}

// Service is a Kubernetes Service. A headless Service has no VIP.
type Service struct {
	Namespace string
	Name      string
	Headless  bool
	ClusterIP netip.Addr // invalid when Headless
	Selector  map[string]string
	Labels    map[string]string
	Ports     []ServicePort
	Endpoints []Endpoint // ready pods selected, sorted by pod key
	Source    Source
}

// Key returns "namespace/name".
func (s Service) Key() string { return s.Namespace + "/" + s.Name }

// Hostname returns the Service's cluster DNS name.
func (s Service) Hostname(clusterDomain string) string {
	return s.Name + "." + s.Namespace + ".svc." + clusterDomain
}

// ServicePort maps a Service port to a target port on the endpoints.
type ServicePort struct {
	Name        string
	Port        uint16
	Protocol    Protocol
	AppProtocol string // spec.ports[].appProtocol, may be empty
	// TargetPort is resolved per endpoint (named ports may differ), see Endpoint.
	TargetPortName string // set when targetPort is a name
	TargetPort     uint16 // set when targetPort is a number (defaults to Port)
}

// Endpoint is one selected pod and the resolved target port per Service port name.
type Endpoint struct {
	Pod         string // "namespace/name"
	IP          netip.Addr
	Node        string
	TargetPorts map[string]uint16 // ServicePort.Name (or port number as string when unnamed) -> pod port
}

// PortKey returns the key used in Endpoint.TargetPorts for a service port.
func (p ServicePort) PortKey() string {
	if p.Name != "" {
		return p.Name
	}
	return itoa(int(p.Port))
}

// Protocol is an L4 protocol.
type Protocol string

const (
	ProtocolTCP  Protocol = "TCP"
	ProtocolUDP  Protocol = "UDP"
	ProtocolSCTP Protocol = "SCTP"
)

// AppProtocol is what the echo workload speaks on a port.
type AppProtocol string

const (
	AppHTTP AppProtocol = "http"
	AppTCP  AppProtocol = "tcp"
)

// WorkloadKind selects the built-in program a container runs.
type WorkloadKind string

const (
	// WorkloadEcho serves HTTP/1.1 + h2c with httpbin endpoints on HTTP ports and raw TCP echo on TCP ports.
	WorkloadEcho WorkloadKind = "echo"
	// WorkloadIdle is an idle client (curl/sleep images): a process that waits, so users exec into the pod.
	WorkloadIdle WorkloadKind = "idle"
	// WorkloadSystem is a mesh component started by the simulator itself (its Command is authoritative).
	WorkloadSystem WorkloadKind = "system"
)

// AddressPlan holds the configurable address ranges. All defaults sit in 198.18.0.0/15.
type AddressPlan struct {
	NodeCIDR    netip.Prefix // fabric bridge subnet; .1 is the bridge, nodes from .10
	ServiceCIDR netip.Prefix // ClusterIP VIPs
	PodCIDR     netip.Prefix // split into one /PerNodePrefixLen per node
	PerNodeBits int          // prefix length of each node's pod CIDR (default 24)
	DNSIP       netip.Addr   // kube-dns VIP
}

// DefaultAddressPlan returns the default plan:
// nodes 198.18.0.0/20, Service VIPs 198.18.16.0/20 (kube-dns 198.18.16.10), pods 198.19.0.0/16 (a /24 per node).
func DefaultAddressPlan() AddressPlan {
	return AddressPlan{
		NodeCIDR:    netip.MustParsePrefix("198.18.0.0/20"),
		ServiceCIDR: netip.MustParsePrefix("198.18.16.0/20"),
		PodCIDR:     netip.MustParsePrefix("198.19.0.0/16"),
		PerNodeBits: 24,
		DNSIP:       netip.MustParseAddr("198.18.16.10"),
	}
}

// BridgeIP is the fabric bridge's address (first host of NodeCIDR).
func (p AddressPlan) BridgeIP() netip.Addr { return p.NodeCIDR.Addr().Next() }

// NodeIP returns the fabric address of node i.
func (p AddressPlan) NodeIP(i int) netip.Addr { return addN(p.NodeCIDR.Addr(), 10+i) }

// NodePodCIDR returns node i's pod subnet.
func (p AddressPlan) NodePodCIDR(i int) netip.Prefix {
	size := 1 << (32 - p.PerNodeBits)
	return netip.PrefixFrom(addN(p.PodCIDR.Addr(), i*size), p.PerNodeBits)
}

// PodIP returns the address of the j-th pod (0-based) on node i; .0 and .1 are reserved.
func (p AddressPlan) PodIP(i, j int) netip.Addr { return addN(p.NodePodCIDR(i).Addr(), 2+j) }

// ServiceIP returns the k-th ClusterIP (0-based), skipping .0, the DNS VIP offset and lower addresses.
func (p AddressPlan) ServiceIP(k int) netip.Addr { return addN(p.ServiceCIDR.Addr(), 20+k) }

// PodGateway is the link-local next hop every pod routes through (its node-side veth).
var PodGateway = netip.MustParseAddr("169.254.1.1")

func addN(a netip.Addr, n int) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// PodsOnNode returns the pods placed on node, sorted by key.
func (c *Cluster) PodsOnNode(node string) []Pod {
	var out []Pod
	for _, p := range c.Pods {
		if p.Node == node {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Pod finds a pod by namespace and name.
func (c *Cluster) Pod(ns, name string) (Pod, bool) {
	for _, p := range c.Pods {
		if p.Namespace == ns && p.Name == name {
			return p, true
		}
	}
	return Pod{}, false
}

// Namespace finds a namespace by name.
func (c *Cluster) Namespace(name string) (Namespace, bool) {
	for _, n := range c.Namespaces {
		if n.Name == name {
			return n, true
		}
	}
	return Namespace{}, false
}
