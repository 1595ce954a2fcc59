package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/sim/controlplane"
	"github.com/ambientlab/ambientlab/sim/controlplane/istiod"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// captureTimeout bounds how long a change waits for its pods to be served
// by their ztunnels (istio-cni holds a pod's start the same way).
const captureTimeout = 10 * time.Second

// AnnotationRedirection is what istio-cni writes on a pod it captured.
const AnnotationRedirection = "ambient.istio.io/redirection"

// waitCaptured returns once every node's ztunnel serves exactly the
// captured pods of model and has their workloads in its state, so traffic
// a caller sends after Up/Apply returns is already in the mesh. There is
// no signal across processes to wait on, so it polls ztunnel's admin
// endpoint (/config_dump), dialled inside the ztunnel pod's netns. Caller
// holds c.mu.
func (c *Cluster) waitCaptured(ctx context.Context, model *topology.Cluster) error {
	c.captured = nil
	if !meshInstalled(model) {
		return nil
	}
	want := map[string][]string{} // node → sorted uids
	keys := map[string]string{}   // uid → pod key
	for key, p := range istiod.Captured(model) {
		uid := controlplane.WorkloadUID(p.Namespace, p.Name)
		want[p.Node] = append(want[p.Node], uid)
		keys[uid] = key
	}
	pending := map[string]*podRuntime{}
	for _, pr := range c.pods {
		if meshComponent(pr.pod) == componentZtunnel {
			pending[pr.pod.Node] = pr
			slices.Sort(want[pr.pod.Node])
		}
	}
	ctx, cancel := context.WithTimeout(ctx, captureTimeout)
	defer cancel()
	last := map[string]string{}
	for {
		for node, zt := range pending {
			ok, why := ztunnelServes(ctx, zt, want[node])
			if ok {
				delete(pending, node)
				continue
			}
			last[node] = why
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			var msgs []string
			for node := range pending {
				msgs = append(msgs, fmt.Sprintf("%s: %s (see `ambientlab logs %s/ztunnel-%s` and `ambientlab logs %s/deploy/istiod`)",
					node, last[node], meshNamespace, node, meshNamespace))
			}
			sort.Strings(msgs)
			return fmt.Errorf("ambient capture not complete within %s: %s", captureTimeout, strings.Join(msgs, "; "))
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.captured = map[string]bool{}
	for _, k := range keys {
		c.captured[k] = true
	}
	return nil
}

// ztunnelConfig is the part of ztunnel's /config_dump read here.
type ztunnelConfig struct {
	Pods  []string `json:"pods"`
	State struct {
		Workloads []struct{ UID string } `json:"workloads"`
	} `json:"state"`
}

// ztunnelServes reports whether zt serves exactly want (sorted uids) and
// knows each of their workloads; otherwise it says what is missing.
func ztunnelServes(ctx context.Context, zt *podRuntime, want []string) (bool, string) {
	body, err := adminGet(ctx, zt, "/config_dump")
	if err != nil {
		return false, "ztunnel admin not answering: " + err.Error()
	}
	var cfg ztunnelConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		return false, "config_dump: " + err.Error()
	}
	slices.Sort(cfg.Pods)
	if !slices.Equal(cfg.Pods, want) {
		return false, fmt.Sprintf("serves pods %v, want %v", cfg.Pods, want)
	}
	known := map[string]bool{}
	for _, w := range cfg.State.Workloads {
		known[w.UID] = true
	}
	for _, uid := range want {
		if !known[uid] {
			return false, "no workload " + uid + " in its xDS state yet"
		}
	}
	return true, ""
}

// withRedirection adds istio-cni's capture annotation to a copy of a (the
// model's maps are shared and must not change).
func withRedirection(a map[string]string, captured bool) map[string]string {
	if !captured {
		return a
	}
	out := make(map[string]string, len(a)+1)
	for k, v := range a {
		out[k] = v
	}
	out[AnnotationRedirection] = "enabled"
	return out
}
