package cluster

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// A waypoint Gateway alone installs the mesh, and its pods run the mesh
// binary's waypoint command, after the ztunnels and before user workloads,
// without SIGHUP (only DNS and istiod reload on it). No root needed: this
// is the resolved model, nothing runs.
func TestWaypointWiring(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StateDir, cfg.MeshBinary = t.TempDir(), "/opt/ambientlab"
	c := &Cluster{cfg: cfg}
	model, err := c.resolve(mustLoad(t, "wp.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: billing}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: billing}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: billing}
spec:
  containers: [{name: c, image: curlimages/curl}]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !meshInstalled(model) {
		t.Fatal("a waypoint Gateway did not install the mesh")
	}
	var wp, ztunnel, client topology.Pod
	for _, p := range model.Pods {
		switch {
		case topology.IsWaypointPod(p):
			wp = p
		case meshComponent(p) == componentZtunnel:
			ztunnel = p
		case p.Name == "client":
			client = p
		}
	}
	if wp.Name == "" || !wp.System || len(wp.Containers) != 1 || wp.Containers[0].Workload != topology.WorkloadSystem {
		t.Fatalf("waypoint pod = %+v", wp)
	}
	lay := c.meshLayout()
	want := strings.Join([]string{"/opt/ambientlab", "waypoint", "--namespace", "billing", "--gateway", "waypoint",
		"--pod", wp.Name, "--xds", "198.18.16.11:15010", "--ca", "198.18.16.11:15012",
		"--bootstrap", filepath.Join(lay.Dir, "pod-bootstrap", "billing", wp.Name), "--trust-domain", "cluster.local"}, " ")
	if got := strings.Join(wp.Containers[0].Command, " "); got != want {
		t.Errorf("waypoint argv\n got %s\nwant %s", got, want)
	}
	if !(startTier(ztunnel) < startTier(wp) && startTier(wp) < startTier(client)) {
		t.Errorf("tiers: ztunnel %d, waypoint %d, client %d", startTier(ztunnel), startTier(wp), startTier(client))
	}
	if reloadsOnSIGHUP(wp) {
		t.Error("a waypoint would get SIGHUP (it does not reload on it)")
	}
}
