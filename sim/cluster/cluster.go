// Package cluster runs a simulated cluster inside the sandbox: it resolves
// manifests into the topology model, builds the node and pod namespaces,
// starts every container as a real process, programs Service load balancing
// and cluster DNS, and applies later changes as diffs. It is the supervisor's
// engine; the CLI reaches it through sim/control.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// maxUnixSocketPath is sun_path's size (108) less the terminating NUL.
const maxUnixSocketPath = 107

// Config is the immutable configuration of one cluster run.
type Config struct {
	Name          string
	Nodes         int
	Plan          topology.AddressPlan
	ClusterDomain string
	TrustDomain   string
	// WorkloadBinary is the ambientlab-workload executable run in pods.
	WorkloadBinary string
	// MeshBinary is the ambientlab executable run by the mesh pods (istiod,
	// ztunnel; see mesh.go); default: this process's own executable when it
	// is ambientlab, else the ambientlab beside WorkloadBinary.
	MeshBinary string
	// StateDir holds per-pod files (resolv.conf, hosts, logs) and the DNS zone;
	// inside the sandbox it is a private tmpfs that vanishes with the run.
	StateDir string
	// Parallelism bounds concurrent pod creation (default 2×GOMAXPROCS... capped).
	Parallelism int
	// ReadyTimeout bounds how long a container may take to report readiness.
	ReadyTimeout time.Duration
	Log          *slog.Logger
}

// DefaultConfig returns a config with the documented defaults.
func DefaultConfig() Config {
	return Config{
		Name:          "ambientlab",
		Nodes:         2,
		Plan:          topology.DefaultAddressPlan(),
		ClusterDomain: "cluster.local",
		TrustDomain:   "cluster.local",
		Parallelism:   8,
		ReadyTimeout:  15 * time.Second,
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Nodes < 1 || c.Nodes > 250 {
		errs = append(errs, fmt.Errorf("nodes: %d is out of range 1-250", c.Nodes))
	}
	if c.WorkloadBinary == "" {
		errs = append(errs, errors.New("workload binary: not set"))
	} else if _, err := os.Stat(c.WorkloadBinary); err != nil {
		errs = append(errs, fmt.Errorf("workload binary: %w (run `make build`)", err))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("state dir: not set"))
	} else if longest := filepath.Join(c.StateDir, "mesh", "zds", fmt.Sprintf("node-%d.sock", c.Nodes-1)); len(longest) > maxUnixSocketPath {
		// The mesh's ZDS sockets live under the state dir; a longer path
		// makes istiod fail to listen, so say so up front.
		errs = append(errs, fmt.Errorf("state dir %s: too long for the mesh's unix sockets (%s is %d bytes, the limit is %d); use a shorter directory", c.StateDir, longest, len(longest), maxUnixSocketPath))
	}
	if c.MeshBinary == "" {
		c.MeshBinary = defaultMeshBinary(c.WorkloadBinary)
	}
	if c.Parallelism < 1 {
		c.Parallelism = 1
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 15 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}

// Cluster is a running simulated cluster.
type Cluster struct {
	cfg     Config
	log     *slog.Logger
	fabric  *netns.Fabric
	started time.Time

	// mu serialises changes (apply, delete, teardown) and guards the fields below.
	mu      sync.Mutex
	set     *manifest.Set // user objects as applied
	model   *topology.Cluster
	nodes   map[string]*netns.Node
	pods    map[string]*podRuntime // by "ns/name"
	closing bool
	// resolved is what the latest model was resolved from (mesh_publish.go);
	// captured holds the pods ztunnel serves after the last converge.
	resolved resolvedInput
	captured map[string]bool

	procs sync.WaitGroup // process watchers
}

// Up builds the cluster described by set and returns once every pod is ready.
// On error everything created so far is torn down.
func Up(ctx context.Context, cfg Config, set *manifest.Set) (_ *Cluster, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if set == nil {
		set = &manifest.Set{}
	}
	for _, dir := range []string{"pods", "logs"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, dir), 0o755); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	c := &Cluster{
		cfg:     cfg,
		log:     cfg.Log,
		started: time.Now(),
		set:     set,
		nodes:   map[string]*netns.Node{},
		pods:    map[string]*podRuntime{},
	}
	model, err := c.resolve(set, nil)
	if err != nil {
		return nil, err
	}
	c.fabric, err = netns.NewFabric(cfg.Plan, c.log)
	if err != nil {
		return nil, fmt.Errorf("fabric: %w", err)
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	for _, n := range model.Nodes {
		node, err := c.fabric.AddNode(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		c.nodes[n.Name] = node
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.converge(ctx, model); err != nil {
		return nil, err
	}
	return c, nil
}

// Model returns the current resolved model (callers must not modify it).
func (c *Cluster) Model() *topology.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.model
}

// Config returns the cluster's configuration.
func (c *Cluster) Config() Config { return c.cfg }

// StartedAt is when Up began.
func (c *Cluster) StartedAt() time.Time { return c.started }

// Close stops every process and removes every namespace. Order: processes
// first (so nothing holds a namespace), then pods, nodes, the fabric.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closing = true
	pods := make([]*podRuntime, 0, len(c.pods))
	for _, p := range c.pods {
		pods = append(pods, p)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(2 * time.Second)
		}()
	}
	wg.Wait()
	c.procs.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for key, p := range c.pods {
		if node := c.nodes[p.pod.Node]; node != nil {
			if err := node.RemovePod(context.Background(), key); err != nil {
				errs = append(errs, err)
			}
		}
		delete(c.pods, key)
	}
	if c.fabric != nil {
		if err := c.fabric.Close(); err != nil {
			errs = append(errs, err)
		}
		c.fabric = nil
	}
	return errors.Join(errs...)
}
