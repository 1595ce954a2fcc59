package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/controlplane/istiod"
	"github.com/ambientlab/ambientlab/sim/controlplane/nodeagent"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// The ambient mesh is installed the way a cluster has it: istiod as a
// Deployment behind Service istio-system/istiod, and one ztunnel pod per
// node (what the ztunnel DaemonSet makes). They are ordinary objects of the
// model; only their processes differ: the main ambientlab binary
// (Config.MeshBinary) with its hidden `controlplane` and `ztunnel` commands.
//
// The mesh is installed when the cluster first has something to capture (a
// namespace or pod labelled istio.io/dataplane-mode=ambient) and then stays,
// as an installed Istio does: removing it would strand the capture rules of
// pods it enrolled. Clusters without ambient workloads run exactly as before.
const (
	meshNamespace = "istio-system"
	// componentLabel marks the simulator's own mesh objects (users cannot
	// collide with them: the objects' names are taken once installed).
	componentLabel   = "ambientlab.io/component"
	componentIstiod  = "istiod"
	componentZtunnel = "ztunnel"

	portXDS     = 15010
	portCA      = 15012
	portAdmin   = 15000
	portMetrics = 15020
)

// istiodIP is istiod's Service VIP: the address after the DNS VIP, below
// the range the resolver allocates from, like kube-dns's fixed VIP.
func istiodIP(plan topology.AddressPlan) netip.Addr { return plan.DNSIP.Next() }

// defaultMeshBinary is the supervisor's own executable when that is
// ambientlab. Any other program (a test binary) would not know the mesh
// commands — and a test binary would run its tests again inside a pod — so
// then it is the ambientlab that `make build` puts beside the workload binary.
func defaultMeshBinary(workloadBinary string) string {
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) == "ambientlab" {
		return exe
	}
	return filepath.Join(filepath.Dir(workloadBinary), "ambientlab")
}

func (c *Cluster) meshLayout() istiod.Layout {
	return istiod.Layout{Dir: filepath.Join(c.cfg.StateDir, "mesh")}
}

// meshObjects are istiod and the per-node ztunnels.
func meshObjects(cfg Config) (*manifest.Set, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: ServiceAccount
metadata: {name: istiod, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ztunnel, namespace: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod
  namespace: %[1]s
  labels: {app: istiod, %[2]s: %[3]s}
spec:
  replicas: 1
  selector:
    matchLabels: {app: istiod}
  template:
    metadata:
      labels: {app: istiod, istio: pilot, %[2]s: %[3]s}
    spec:
      serviceAccountName: istiod
      nodeName: node-0
      containers:
      - name: discovery
        image: ambientlab.io/istiod:builtin
        ports:
        - {name: grpc-xds, containerPort: %[4]d, protocol: TCP}
        - {name: https-ca, containerPort: %[5]d, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata:
  name: istiod
  namespace: %[1]s
  labels: {app: istiod}
spec:
  clusterIP: %[6]s
  selector: {app: istiod}
  ports:
  - {name: grpc-xds, port: %[4]d, protocol: TCP, targetPort: %[4]d}
  - {name: https-ca, port: %[5]d, protocol: TCP, targetPort: %[5]d}
`, meshNamespace, componentLabel, componentIstiod, portXDS, portCA, istiodIP(cfg.Plan))
	for i := range cfg.Nodes {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Pod
metadata:
  name: ztunnel-node-%[1]d
  namespace: %[2]s
  labels: {app: ztunnel, %[3]s: %[4]s}
spec:
  serviceAccountName: ztunnel
  nodeName: node-%[1]d
  containers:
  - name: istio-proxy
    image: ambientlab.io/ztunnel:builtin
    ports:
    - {name: ztunnel-stats, containerPort: %[5]d, protocol: TCP}
`, i, meshNamespace, componentLabel, componentZtunnel, portMetrics)
	}
	return manifest.Load("<builtin mesh objects>", []byte(b.String()))
}

func meshComponent(p topology.Pod) string {
	if p.Namespace != meshNamespace {
		return ""
	}
	return p.Labels[componentLabel]
}

// meshInstalled reports whether m runs the mesh (nil m: no).
func meshInstalled(m *topology.Cluster) bool {
	if m == nil {
		return false
	}
	for _, p := range m.Pods {
		if meshComponent(p) == componentIstiod {
			return true
		}
	}
	return false
}

// wantsMesh reports whether m has anything labelled for ambient capture,
// or a waypoint (which is useless without the mesh, and needs istiod).
func wantsMesh(m *topology.Cluster) bool {
	for _, ns := range m.Namespaces {
		if ns.Labels[nodeagent.LabelDataplaneMode] == nodeagent.DataplaneModeAmbient {
			return true
		}
	}
	for _, p := range m.Pods {
		if p.Labels[nodeagent.LabelDataplaneMode] == nodeagent.DataplaneModeAmbient || topology.IsWaypointPod(p) {
			return true
		}
	}
	return false
}

// markMeshPods gives istiod, the ztunnels and the waypoints (the pods of a
// waypoint Gateway's Deployment, see topology/waypoint.go) their real
// programs. A waypoint gets the pod-bound credential istiod writes for it.
func (c *Cluster) markMeshPods(m *topology.Cluster) {
	lay := c.meshLayout()
	vip := istiodIP(c.cfg.Plan).String()
	for i := range m.Pods {
		p := &m.Pods[i]
		var argv []string
		switch {
		case topology.IsWaypointPod(*p):
			argv = []string{c.cfg.MeshBinary, "waypoint", "--namespace", p.Namespace,
				"--gateway", p.Labels[topology.LabelGatewayName], "--pod", p.Name,
				"--xds", fmt.Sprintf("%s:%d", vip, portXDS), "--ca", fmt.Sprintf("%s:%d", vip, portCA),
				"--bootstrap", lay.PodBootstrapDir(p.Namespace, p.Name), "--trust-domain", m.TrustDomain}
		case meshComponent(*p) == componentIstiod:
			argv = []string{c.cfg.MeshBinary, "controlplane", "--state", lay.Dir,
				"--listen", fmt.Sprintf(":%d", portXDS), "--ca-listen", fmt.Sprintf(":%d", portCA)}
		case meshComponent(*p) == componentZtunnel:
			argv = []string{c.cfg.MeshBinary, "ztunnel", "--node", p.Node,
				"--xds", fmt.Sprintf("%s:%d", vip, portXDS), "--ca", fmt.Sprintf("%s:%d", vip, portCA),
				"--zds", lay.ZDSSocket(p.Node), "--bootstrap", lay.BootstrapDir(p.Node)}
		default:
			continue
		}
		p.System = true
		for j := range p.Containers {
			p.Containers[j].Workload = topology.WorkloadSystem
			p.Containers[j].Command = argv
		}
	}
}

// Start tiers (startTier).
const (
	tierDNS = iota
	tierIstiod
	tierZtunnel
	tierWaypoint
	tierWorkload
)

// startTier orders pod creation: each tier starts, alone, once the one
// before is ready — cluster DNS, istiod, the ztunnels (which need istiod's
// bootstrap credentials, xDS and ZDS sockets), the waypoints (which need
// istiod's pod credentials and xDS; user traffic through them needs them
// ready), then user workloads.
func startTier(p topology.Pod) int {
	switch {
	case !p.System:
		return tierWorkload
	case topology.IsWaypointPod(p):
		return tierWaypoint
	case meshComponent(p) == componentZtunnel:
		return tierZtunnel
	case meshComponent(p) == componentIstiod:
		return tierIstiod
	}
	return tierDNS
}

// reloadsOnSIGHUP: DNS and istiod re-read their input on SIGHUP; ztunnels
// and waypoints have nothing to re-read (their configuration arrives over
// xDS and ZDS).
func reloadsOnSIGHUP(p topology.Pod) bool {
	return meshComponent(p) != componentZtunnel && !topology.IsWaypointPod(p)
}
