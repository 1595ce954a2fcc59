package cluster

import (
	"fmt"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/controlplane"
	"github.com/ambientlab/ambientlab/sim/controlplane/istiod"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// resolvedInput is the object set a model was resolved from: the control
// plane's input needs both (the model for pods and Services, the set for
// the Istio policies). resolve records it; converge publishes it.
type resolvedInput struct {
	model *topology.Cluster
	set   *manifest.Set
}

// publishMesh writes what istiod reads: first the pod → netns map of the
// running pods, then a new input generation (istiod takes a new generation
// as its cue, so the map it reads is never older than the input). Caller
// holds c.mu. A cluster without the mesh publishes nothing.
func (c *Cluster) publishMesh(model *topology.Cluster) error {
	if !meshInstalled(model) {
		return nil
	}
	if c.resolved.model != model {
		return fmt.Errorf("mesh: internal error: publishing a model that was not the last resolved")
	}
	lay := c.meshLayout()
	refs := make(map[string]istiod.NetnsRef, len(c.pods))
	for key, pr := range c.pods {
		ns := pr.netns.NS()
		ino, err := ns.Inode()
		if err != nil {
			return fmt.Errorf("mesh: netns of %s: %w", key, err)
		}
		refs[key] = istiod.NetnsRef{Path: ns.Path(), Inode: ino}
	}
	if err := istiod.WriteNetns(lay.NetnsFile(), refs); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	if err := controlplane.WriteInput(lay.InputDir(), model, c.withWaypointStatus(c.resolved.set)); err != nil {
		return fmt.Errorf("mesh: control-plane input: %w", err)
	}
	return nil
}

// prepareMesh publishes before any pod starts only when istiod has no input
// yet (it reads one at start); otherwise the publish after the pods, just
// before the reload, is the one that counts.
func (c *Cluster) prepareMesh(model *topology.Cluster) error {
	if !meshInstalled(model) {
		return nil
	}
	if c.meshLayout().InputVersion() != "" {
		return nil
	}
	return c.publishMesh(model)
}

// withWaypointStatus returns set with each waypoint Gateway's Programmed
// condition set from its pods (one running and ready is enough), as Istio's
// deployment controller writes it; istiod binds nothing to a waypoint
// before. Caller holds c.mu.
func (c *Cluster) withWaypointStatus(set *manifest.Set) *manifest.Set {
	ready := map[string]bool{}
	for _, pr := range c.pods {
		if p, _ := pr.snapshot(); topology.IsWaypointPod(p) && pr.ready() {
			ready[p.Namespace+"/"+p.Labels[topology.LabelGatewayName]] = true
		}
	}
	out := &manifest.Set{Objects: make([]manifest.Object, len(set.Objects)), Warnings: set.Warnings}
	for i, o := range set.Objects {
		out.Objects[i] = manifest.WithProgrammed(o, ready[o.Namespace+"/"+o.Name])
	}
	return out
}
