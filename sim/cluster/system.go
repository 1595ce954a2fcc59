package cluster

import (
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// The simulator adds its own system objects, as a real cluster has them:
// cluster DNS as Deployment kube-system/coredns behind Service kube-dns on the
// plan's DNS VIP. They are ordinary objects in the model (they get addresses,
// Service rules and show up in `get pods -A`); only their process differs.
const (
	dnsNamespace = "kube-system"
	dnsAppLabel  = "kube-dns"
)

func systemObjects(cfg Config) (*manifest.Set, error) {
	doc := fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: coredns
  namespace: kube-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  replicas: 1
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      serviceAccountName: coredns
      nodeName: node-0
      containers:
      - name: coredns
        image: ambientlab.io/cluster-dns:builtin
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  clusterIP: %s
  selector:
    k8s-app: kube-dns
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
`, cfg.Plan.DNSIP)
	return manifest.Load("<builtin system objects>", []byte(doc))
}

// markSystemPods gives system pods their real programs.
func markSystemPods(m *topology.Cluster, cfg Config, zonePath string) {
	for i := range m.Pods {
		p := &m.Pods[i]
		if p.Namespace != dnsNamespace || p.Labels["k8s-app"] != dnsAppLabel {
			continue
		}
		p.System = true
		for j := range p.Containers {
			p.Containers[j].Workload = topology.WorkloadSystem
			p.Containers[j].Command = []string{cfg.WorkloadBinary, "dns", "--listen", "0.0.0.0:53", "--zone", zonePath}
		}
	}
}

func (c *Cluster) zonePath() string { return filepath.Join(c.cfg.StateDir, "dns-zone.json") }

// reloadDNS tells the DNS server (and istiod) to re-read its input (SIGHUP).
func (c *Cluster) reloadDNS() {
	for _, pr := range c.pods {
		if !pr.pod.System || !reloadsOnSIGHUP(pr.pod) {
			continue
		}
		for _, ct := range pr.containers {
			ct.mu.Lock()
			if ct.running {
				ct.cmd.Process.Signal(syscall.SIGHUP)
			}
			ct.mu.Unlock()
		}
	}
}
