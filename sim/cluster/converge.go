package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/kubeproxy"
	"github.com/ambientlab/ambientlab/sim/topology"
	"github.com/ambientlab/ambientlab/sim/workload/clusterdns"
)

// resolve turns the user's objects plus the simulator's own system objects into
// a model, keeping addresses of prev stable. The mesh's objects join once
// there is something to capture, and stay (mesh.go).
func (c *Cluster) resolve(user *manifest.Set, prev *topology.Cluster) (*topology.Cluster, error) {
	model, err := c.resolveObjects(user, prev, meshInstalled(prev))
	if err != nil || meshInstalled(model) || !wantsMesh(model) {
		return model, err
	}
	return c.resolveObjects(user, prev, true)
}

func (c *Cluster) resolveObjects(user *manifest.Set, prev *topology.Cluster, withMesh bool) (*topology.Cluster, error) {
	sys, err := systemObjects(c.cfg)
	if err != nil {
		return nil, err
	}
	full := &manifest.Set{}
	if err := full.Merge(sys); err != nil {
		return nil, fmt.Errorf("system objects: %w", err)
	}
	if withMesh {
		mesh, err := meshObjects(c.cfg)
		if err != nil {
			return nil, err
		}
		if err := full.Merge(mesh); err != nil {
			return nil, fmt.Errorf("mesh objects: %w", err)
		}
	}
	if err := full.Merge(user); err != nil {
		return nil, err
	}
	model, err := topology.Resolve(full, topology.ResolveOptions{
		ClusterName:   c.cfg.Name,
		Nodes:         c.cfg.Nodes,
		Plan:          c.cfg.Plan,
		ClusterDomain: c.cfg.ClusterDomain,
		TrustDomain:   c.cfg.TrustDomain,
	}, prev)
	if err != nil {
		return nil, err
	}
	markSystemPods(model, c.cfg, c.zonePath())
	c.markMeshPods(model)
	c.resolved = resolvedInput{model: model, set: full}
	return model, nil
}

// converge makes the running state match model: removes pods that vanished or
// changed, creates new ones, then reprograms Services and DNS. Caller holds c.mu.
func (c *Cluster) converge(ctx context.Context, model *topology.Cluster) error {
	want := map[string]topology.Pod{}
	for _, p := range model.Pods {
		want[p.Key()] = p
	}
	// Remove pods that are gone or whose spec changed (a changed pod is recreated,
	// as a Deployment rollout would do).
	var remove []*podRuntime
	for key, pr := range c.pods {
		np, ok := want[key]
		if !ok || !samePodSpec(pr.pod, np) {
			remove = append(remove, pr)
		} else {
			pr.setPod(np) // labels/annotations may change in place
		}
	}
	c.removePods(ctx, remove)

	// DNS data and Service rules must exist before workloads start resolving.
	if err := clusterdns.WriteZone(c.zonePath(), clusterdns.BuildZone(model)); err != nil {
		return fmt.Errorf("dns zone: %w", err)
	}
	var create []topology.Pod
	for _, p := range model.Pods {
		if _, ok := c.pods[p.Key()]; !ok {
			create = append(create, p)
		}
	}
	// System pods first (DNS, then the mesh), so user workloads start with a
	// working resolver and mesh.
	slices.SortStableFunc(create, func(a, b topology.Pod) int { return startTier(a) - startTier(b) })
	c.model = model
	if err := c.syncServices(model); err != nil {
		return err
	}
	if err := c.prepareMesh(model); err != nil {
		return err
	}
	if err := c.createPods(ctx, create); err != nil {
		return err
	}
	if err := c.publishMesh(model); err != nil {
		return err
	}
	c.reloadDNS()
	return c.waitCaptured(ctx, model)
}

// samePodSpec reports whether two resolved pods run the same processes in the
// same place; label and annotation changes do not restart a pod.
func samePodSpec(a, b topology.Pod) bool {
	return a.Node == b.Node && a.IP == b.IP && a.ServiceAccount == b.ServiceAccount &&
		reflect.DeepEqual(a.Containers, b.Containers)
}

func (c *Cluster) syncServices(model *topology.Cluster) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.nodes)) {
		node := c.nodes[name]
		if err := kubeproxy.Sync(node.NS().Fd(), model.Services); err != nil {
			errs = append(errs, fmt.Errorf("service rules on %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// createPods builds namespaces and starts containers with bounded parallelism.
func (c *Cluster) createPods(ctx context.Context, pods []topology.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	// Each start tier goes alone, so user pods never race the resolver and
	// ztunnels never race istiod (pods are sorted by tier).
	for len(pods) > 0 {
		i := 1
		for i < len(pods) && startTier(pods[i]) == startTier(pods[0]) {
			i++
		}
		if startTier(pods[0]) == tierWaypoint {
			// A waypoint starts with the credential istiod issues for it,
			// so istiod must know the pod first: publish and tell it.
			if err := c.publishMesh(c.model); err != nil {
				return err
			}
			c.reloadDNS()
		}
		if err := c.createBatch(ctx, pods[:i]); err != nil {
			return err
		}
		pods = pods[i:]
	}
	return nil
}

func (c *Cluster) createBatch(ctx context.Context, pods []topology.Pod) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, c.cfg.Parallelism)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			pr, err := c.startPod(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if pr != nil {
				c.pods[p.Key()] = pr
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("pod %s: %w", p.Key(), err))
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) removePods(ctx context.Context, pods []*podRuntime) {
	var wg sync.WaitGroup
	for _, pr := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.stop(2 * time.Second)
		}()
	}
	wg.Wait()
	for _, pr := range pods {
		if node := c.nodes[pr.pod.Node]; node != nil {
			if err := node.RemovePod(ctx, pr.pod.Key()); err != nil {
				c.log.Warn("remove pod namespace", "pod", pr.pod.Key(), "err", err)
			}
		}
		pr.removeFiles()
		delete(c.pods, pr.pod.Key())
	}
}
