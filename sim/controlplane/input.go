package controlplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// The input directory the simulator writes and the istiod process reads:
//
//	<dir>/current -> gen-<n>/        symlink, swapped atomically by rename
//	<dir>/gen-<n>/cluster.json       the resolved topology.Cluster
//	<dir>/gen-<n>/istio.yaml         the Istio and Gateway API objects (security.istio.io,
//	                                 gateway.networking.k8s.io, ...)
//
// A reader that resolves "current" always sees a complete pair.
const (
	currentLink = "current"
	clusterFile = "cluster.json"
	istioFile   = "istio.yaml"
)

// WriteInput publishes a new input generation in dir atomically and removes
// the previous one. Only Istio and Gateway API objects from set are written;
// the core kinds are already resolved into cluster (waypoint Gateways
// included: their Deployment and Service are in cluster, the Gateway is
// written for its waypoint-for and for policy attachment).
func WriteInput(dir string, cluster *topology.Cluster, set *manifest.Set) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	model, err := json.MarshalIndent(cluster, "", "  ")
	if err != nil {
		return fmt.Errorf("controlplane: encode cluster: %w", err)
	}
	istio, err := istioYAML(set)
	if err != nil {
		return err
	}
	prev, _ := os.Readlink(filepath.Join(dir, currentLink))
	gen := "gen-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	tmp, err := os.MkdirTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.WriteFile(filepath.Join(tmp, clusterFile), model, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, istioFile), istio, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, gen)); err != nil {
		return err
	}
	link := filepath.Join(dir, ".link-"+gen)
	if err := os.Symlink(gen, link); err != nil {
		return err
	}
	if err := os.Rename(link, filepath.Join(dir, currentLink)); err != nil {
		os.Remove(link)
		return err
	}
	if prev != "" && prev != gen {
		os.RemoveAll(filepath.Join(dir, prev))
	}
	return nil
}

// istioYAML renders the Istio and Gateway API objects of set as a multi-document YAML stream
// with apiVersion and kind set, in set order.
func istioYAML(set *manifest.Set) ([]byte, error) {
	var buf bytes.Buffer
	if set == nil {
		return nil, nil
	}
	for _, o := range set.Objects {
		if !isIstioGroup(o.GVK.Group) && o.GVK.Group != gatewayAPIGroup {
			continue
		}
		j, err := json.Marshal(o.Obj)
		if err != nil {
			return nil, fmt.Errorf("controlplane: encode %s: %w", o.Key(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, err
		}
		m["apiVersion"], m["kind"] = o.GVK.GroupVersion().String(), o.GVK.Kind
		if o.GVK.Group != gatewayAPIGroup || o.GVK.Kind != "Gateway" {
			// A Gateway's status carries Programmed, which istiod waits for
			// before it binds anything to a waypoint; other status is noise.
			delete(m, "status")
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

const gatewayAPIGroup = "gateway.networking.k8s.io"

func isIstioGroup(g string) bool {
	return len(g) > len(".istio.io") && g[len(g)-len(".istio.io"):] == ".istio.io"
}

// ReadInput reads the current generation of dir. version names it, so a
// poller can tell whether anything changed.
func ReadInput(dir string) (cluster *topology.Cluster, set *manifest.Set, version string, err error) {
	version, err = os.Readlink(filepath.Join(dir, currentLink))
	if err != nil {
		return nil, nil, "", fmt.Errorf("controlplane: no input in %s: %w", dir, err)
	}
	gdir := filepath.Join(dir, version)
	model, err := os.ReadFile(filepath.Join(gdir, clusterFile))
	if err != nil {
		return nil, nil, "", err
	}
	cluster = &topology.Cluster{}
	if err := json.Unmarshal(model, cluster); err != nil {
		return nil, nil, "", fmt.Errorf("controlplane: %s: %w", clusterFile, err)
	}
	istio, err := os.ReadFile(filepath.Join(gdir, istioFile))
	if err != nil {
		return nil, nil, "", err
	}
	set, err = manifest.Decode(filepath.Join(gdir, istioFile), istio)
	if err != nil {
		return nil, nil, "", err
	}
	return cluster, set, version, nil
}
