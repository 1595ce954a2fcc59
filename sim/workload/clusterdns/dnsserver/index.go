package dnsserver

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// index is a Zone compiled into lookup maps keyed by lower-case FQDN.
type index struct {
	domain string // "cluster.local."
	// names holds every name that exists in the zone, including empty
	// non-terminals such as "ns1.svc.cluster.local." (they answer NODATA, not
	// NXDOMAIN, as in any DNS zone).
	names  map[string]*node
	ptr    map[string]string // "4.3.2.1.in-addr.arpa." -> target FQDN
	serial uint32
}

type node struct {
	a   []netip.Addr
	srv []srvTarget
}

type srvTarget struct {
	port   uint16
	target string
}

func buildIndex(z *Zone) (*index, error) {
	domain := dns.CanonicalName(z.Domain)
	if z.Domain == "" || domain == "." {
		return nil, errors.New("zone: empty cluster domain")
	}
	if _, ok := dns.IsDomainName(domain); !ok {
		return nil, fmt.Errorf("zone: invalid cluster domain %q", z.Domain)
	}
	idx := &index{domain: domain, names: map[string]*node{domain: {}}, ptr: map[string]string{}}
	if z.DNSIP.IsValid() {
		if err := idx.addA("ns.dns."+domain, z.DNSIP); err != nil {
			return nil, err
		}
	}

	pods := make(map[string]Pod, len(z.Pods))
	for _, p := range z.Pods {
		pods[p.Namespace+"/"+p.Name] = p
	}
	headless := make(map[string]bool)
	for _, s := range z.Services {
		if s.Headless {
			headless[s.Namespace+"/"+s.Name] = true
		}
	}

	for _, s := range z.Services {
		if err := idx.addService(s, pods); err != nil {
			return nil, err
		}
	}
	for _, p := range z.Pods {
		if err := idx.addPod(p, headless); err != nil {
			return nil, err
		}
	}
	// The SOA serial changes when the set of names changes; XOR keeps it
	// independent of map iteration order.
	for name := range idx.names {
		h := fnv.New32a()
		h.Write([]byte(name))
		idx.serial ^= h.Sum32()
	}
	return idx, nil
}

func (idx *index) addService(s Service, pods map[string]Pod) error {
	fq, err := idx.name(s.Name, s.Namespace, "svc")
	if err != nil {
		return fmt.Errorf("zone: service %s/%s: %w", s.Namespace, s.Name, err)
	}
	n := idx.ensure(fq)
	if !s.Headless {
		if !s.ClusterIP.Is4() {
			return fmt.Errorf("zone: service %s/%s: ClusterIP %q is not IPv4", s.Namespace, s.Name, s.ClusterIP)
		}
		n.a = append(n.a, s.ClusterIP)
		idx.addPTR(s.ClusterIP, fq)
		for _, p := range s.Ports {
			if p.Name != "" {
				srvName, err := srvOwner(p, fq)
				if err != nil {
					return fmt.Errorf("zone: service %s/%s: %w", s.Namespace, s.Name, err)
				}
				idx.ensure(srvName).srv = append(idx.ensure(srvName).srv, srvTarget{p.Port, fq})
			}
		}
		return nil
	}
	// Headless: the Service name resolves to every endpoint; each endpoint also
	// gets its own name, the pod's hostname when the pod's subdomain is this
	// Service, else its dashed IP (CoreDNS endpoint_pod_names disabled).
	for _, e := range s.Endpoints {
		if !e.IP.Is4() {
			return fmt.Errorf("zone: service %s/%s: endpoint IP %q is not IPv4", s.Namespace, s.Name, e.IP)
		}
		label := dashed(e.IP)
		if p, ok := pods[e.Pod]; ok && p.Subdomain == s.Name && p.Namespace == s.Namespace {
			label = hostnameOf(p)
		}
		epName := strings.ToLower(label) + "." + fq
		if _, ok := dns.IsDomainName(epName); !ok {
			return fmt.Errorf("zone: service %s/%s: invalid endpoint name %q", s.Namespace, s.Name, epName)
		}
		n.a = appendUnique(n.a, e.IP)
		idx.ensure(epName).a = appendUnique(idx.ensure(epName).a, e.IP)
		idx.addPTR(e.IP, epName)
		for _, p := range s.Ports {
			tp, ok := e.TargetPorts[p.Name]
			if p.Name == "" || !ok {
				continue
			}
			srvName, err := srvOwner(p, fq)
			if err != nil {
				return fmt.Errorf("zone: service %s/%s: %w", s.Namespace, s.Name, err)
			}
			idx.ensure(srvName).srv = append(idx.ensure(srvName).srv, srvTarget{tp, epName})
		}
	}
	return nil
}

func (idx *index) addPod(p Pod, headless map[string]bool) error {
	if !p.IP.Is4() {
		return fmt.Errorf("zone: pod %s/%s: IP %q is not IPv4", p.Namespace, p.Name, p.IP)
	}
	podName, err := idx.name(dashed(p.IP), p.Namespace, "pod")
	if err != nil {
		return fmt.Errorf("zone: pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	idx.ensure(podName).a = appendUnique(idx.ensure(podName).a, p.IP)
	// Pods outside any headless Service still get a reverse name.
	idx.addPTR(p.IP, podName)
	if p.Subdomain != "" && headless[p.Namespace+"/"+p.Subdomain] {
		fq, err := idx.name(p.Subdomain, p.Namespace, "svc")
		if err != nil {
			return fmt.Errorf("zone: pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		hostName := strings.ToLower(hostnameOf(p)) + "." + fq
		if _, ok := dns.IsDomainName(hostName); !ok {
			return fmt.Errorf("zone: pod %s/%s: invalid hostname %q", p.Namespace, p.Name, hostName)
		}
		idx.ensure(hostName).a = appendUnique(idx.ensure(hostName).a, p.IP)
	}
	return nil
}

// name builds "<first>.<ns>.<kind>.<domain>" and checks it is a valid DNS name.
func (idx *index) name(first, namespace, kind string) (string, error) {
	if first == "" || namespace == "" || strings.Contains(first, ".") || strings.Contains(namespace, ".") {
		return "", fmt.Errorf("invalid name %q in namespace %q", first, namespace)
	}
	fq := strings.ToLower(first + "." + namespace + "." + kind + "." + idx.domain)
	if _, ok := dns.IsDomainName(fq); !ok || len(fq) > 254 {
		return "", fmt.Errorf("invalid DNS name %q", fq)
	}
	return fq, nil
}

func srvOwner(p Port, svcName string) (string, error) {
	proto := strings.ToLower(p.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("port %q: protocol %q", p.Name, p.Protocol)
	}
	owner := strings.ToLower("_" + p.Name + "._" + proto + "." + svcName)
	if _, ok := dns.IsDomainName(owner); !ok || strings.Contains(p.Name, ".") {
		return "", fmt.Errorf("port %q: invalid SRV name %q", p.Name, owner)
	}
	return owner, nil
}

func (idx *index) addA(name string, ip netip.Addr) error {
	if !ip.Is4() {
		return fmt.Errorf("zone: %s: %q is not IPv4", name, ip)
	}
	n := idx.ensure(dns.CanonicalName(name))
	n.a = appendUnique(n.a, ip)
	return nil
}

// addPTR keeps the first target for an IP: Services come before pods, so a
// ClusterIP or a headless endpoint name wins over the pod's dashed name.
func (idx *index) addPTR(ip netip.Addr, target string) {
	rev, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return
	}
	if _, ok := idx.ptr[rev]; !ok {
		idx.ptr[rev] = target
	}
}

// ensure returns name's node, creating it and its empty non-terminal parents
// up to the domain apex.
func (idx *index) ensure(name string) *node {
	if n, ok := idx.names[name]; ok {
		return n
	}
	n := &node{}
	idx.names[name] = n
	for parent := name; parent != idx.domain; {
		i := strings.IndexByte(parent, '.')
		if i < 0 || i == len(parent)-1 {
			break
		}
		parent = parent[i+1:]
		if _, ok := idx.names[parent]; ok {
			break
		}
		idx.names[parent] = &node{}
	}
	return n
}

func hostnameOf(p Pod) string {
	if p.Hostname != "" {
		return p.Hostname
	}
	return p.Name
}

// dashed renders 1.2.3.4 as "1-2-3-4", the label CoreDNS uses for pod and endpoint names.
func dashed(ip netip.Addr) string { return strings.ReplaceAll(ip.String(), ".", "-") }

func appendUnique(s []netip.Addr, ip netip.Addr) []netip.Addr {
	for _, x := range s {
		if x == ip {
			return s
		}
	}
	return append(s, ip)
}
