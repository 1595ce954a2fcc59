package cluster

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// Apply merges set into the cluster's objects (create or replace by kind,
// namespace and name) and converges. It validates and resolves everything
// before touching the running cluster, so an invalid set changes nothing.
// It returns kubectl-style lines ("deployment.apps/httpbin created").
func (c *Cluster) Apply(ctx context.Context, set *manifest.Set) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, fmt.Errorf("cluster is shutting down")
	}
	next := cloneSet(c.set)
	lines := describeApply(c.set, set)
	if err := next.Merge(set); err != nil {
		return nil, err
	}
	model, err := c.resolve(next, c.model)
	if err != nil {
		return nil, err
	}
	if err := c.converge(ctx, model); err != nil {
		return nil, err
	}
	c.set = next
	return lines, nil
}

// Delete removes the objects named in set and converges. Deleting an object
// that does not exist is an error naming it, and nothing is deleted.
func (c *Cluster) Delete(ctx context.Context, set *manifest.Set) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, fmt.Errorf("cluster is shutting down")
	}
	next := cloneSet(c.set)
	removed, err := next.Remove(set)
	if err != nil {
		return nil, err
	}
	model, err := c.resolve(next, c.model)
	if err != nil {
		return nil, err
	}
	if err := c.converge(ctx, model); err != nil {
		return nil, err
	}
	c.set = next
	var lines []string
	for _, o := range removed {
		lines = append(lines, objectName(o)+" deleted")
	}
	return lines, nil
}

func cloneSet(s *manifest.Set) *manifest.Set {
	out := &manifest.Set{Objects: append([]manifest.Object(nil), s.Objects...)}
	return out
}

// describeApply compares incoming objects with current ones.
func describeApply(cur, in *manifest.Set) []string {
	type key struct{ kind, ns, name string }
	existing := map[key]manifest.Object{}
	for _, o := range cur.Objects {
		existing[key{o.GVK.Kind, o.Namespace, o.Name}] = o
	}
	var lines []string
	for _, o := range in.Objects {
		old, ok := existing[key{o.GVK.Kind, o.Namespace, o.Name}]
		verb := "created"
		if ok {
			verb = "configured"
			if equality.Semantic.DeepEqual(old.Obj, o.Obj) {
				verb = "unchanged"
			}
		}
		lines = append(lines, objectName(o)+" "+verb)
	}
	return lines
}

// objectName renders kubectl's "kind.group/name" form.
func objectName(o manifest.Object) string {
	kind := strings.ToLower(o.GVK.Kind)
	if o.GVK.Group != "" {
		kind += "." + o.GVK.Group
	}
	if o.Namespace != "" {
		return fmt.Sprintf("%s/%s (namespace %s)", kind, o.Name, o.Namespace)
	}
	return kind + "/" + o.Name
}
