package clusterdns

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// ResolvConf renders a pod's /etc/resolv.conf as the kubelet does for
// dnsPolicy ClusterFirst: the cluster DNS as only nameserver, the namespace's
// search path, and ndots:5.
func ResolvConf(podNamespace string, dnsIP netip.Addr, domain string) []byte {
	return fmt.Appendf(nil, "nameserver %s\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n",
		dnsIP, podNamespace, domain, domain, domain)
}

// HostsFile renders a pod's /etc/hosts as the kubelet does: the loopback
// entries, then the pod IP with its FQDN (when it has a subdomain) and hostname.
func HostsFile(pod topology.Pod, domain string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n")
	if !pod.IP.IsValid() {
		return []byte(b.String())
	}
	hostname := pod.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	if pod.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", pod.IP, hostname, pod.Subdomain, pod.Namespace, domain, hostname)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", pod.IP, hostname)
	}
	return []byte(b.String())
}
