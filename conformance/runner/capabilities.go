package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/capture"
	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// ClusterDecided are the capabilities only a running cluster can show: the
// simulator installs the mesh (istiod, a ztunnel per node) when a scenario's
// manifests enrol something in ambient, so whether ztunnel — and with it
// its access logs and the mTLS identities they record — is there is known
// after setup, not before.
//
// The waypoint capability comes with the mesh too: a waypoint Gateway
// deploys the reference waypoint, so it is present when the ztunnels are and
// every waypoint pod of the cluster is Ready.
var ClusterDecided = []scenarios.Capability{scenarios.CapZtunnel, scenarios.CapAccessLogs, scenarios.CapMTLSIdentity, scenarios.CapWaypoint}

// HostCapabilities is what this process can do before any cluster exists:
// the simulator's Services and DNS, plus packet capture when AF_PACKET
// sockets work here (they need CAP_NET_RAW in the sandbox's namespace).
func HostCapabilities() Capabilities {
	c := SimulatorCapabilities()
	if capture.Available() == nil {
		c[scenarios.CapPacketCapture] = true
	}
	return c
}

// ClusterCapabilities decides the ClusterDecided capabilities from a
// running cluster: every node has its ztunnel pod in istio-system, Running
// and Ready. It returns the capabilities present and, when absent, why.
func ClusterCapabilities(c *cluster.Cluster) (Capabilities, string) {
	pods, err := podList(c)
	if err != nil {
		return Capabilities{}, "cannot list pods: " + err.Error()
	}
	ready := map[string]bool{}
	var waypointsNotReady []string
	for _, p := range pods.Items {
		isReady := false
		for _, cond := range p.Status.Conditions {
			isReady = isReady || (cond.Type == "Ready" && cond.Status == "True")
		}
		if p.Labels[topology.LabelComponent] == topology.ComponentWaypoint && !isReady {
			waypointsNotReady = append(waypointsNotReady, p.Namespace+"/"+p.Name)
		}
		if p.Namespace == meshNamespace && p.Labels["app"] == ztunnelApp && isReady {
			ready[p.Spec.NodeName] = true
		}
	}
	var without []string
	for _, n := range c.Model().Nodes {
		if !ready[n.Name] {
			without = append(without, n.Name)
		}
	}
	if len(ready) == 0 {
		return Capabilities{}, fmt.Sprintf("no ready ztunnel pod in %s (nothing in the cluster is enrolled in ambient, or the mesh did not start)", meshNamespace)
	}
	if len(without) > 0 {
		return Capabilities{}, fmt.Sprintf("no ready ztunnel in %s on %s", meshNamespace, strings.Join(without, ", "))
	}
	out := Capabilities{}
	for _, cp := range ClusterDecided {
		out[cp] = true
	}
	if len(waypointsNotReady) > 0 {
		delete(out, scenarios.CapWaypoint)
		return out, "waypoint pods not ready: " + strings.Join(waypointsNotReady, ", ")
	}
	return out, ""
}

// splitMissing returns the needed capabilities the set lacks that no
// cluster can bring (skip now) and those to decide after setup.
func (o *Options) splitMissing(need []scenarios.Capability) (missing, deferred []scenarios.Capability) {
	for _, m := range o.Capabilities.Missing(need) {
		if o.DetectCapabilities && slices.Contains(ClusterDecided, m) {
			deferred = append(deferred, m)
		} else {
			missing = append(missing, m)
		}
	}
	return missing, deferred
}

// decideAfterSetup adds the deferred capabilities the running cluster has
// to the run's set; it returns the set and those still missing, with why.
func decideAfterSetup(c *cluster.Cluster, base Capabilities, deferred []scenarios.Capability) (Capabilities, []scenarios.Capability, string) {
	merged := Capabilities{}
	for k, v := range base {
		merged[k] = v
	}
	if len(deferred) == 0 {
		return merged, nil, ""
	}
	have, why := ClusterCapabilities(c)
	var still []scenarios.Capability
	for _, d := range deferred {
		if have[d] {
			merged[d] = true
		} else {
			still = append(still, d)
		}
	}
	return merged, still, why
}

// clusterMissingMessage names what the running cluster lacks, why, and
// what needs it.
func clusterMissingMessage(r *scenarios.Resolved, missing []scenarios.Capability, why string) string {
	parts := strings.Split(missingMessage(r, missing), "; ")
	for i := range parts {
		parts[i] = strings.Replace(parts[i], " not implemented yet", " not present in the running cluster", 1)
	}
	return strings.Join(parts, "; ") + ": " + why
}
