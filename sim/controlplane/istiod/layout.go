package istiod

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Layout names the files of an istiod state directory. The simulator
// writes Input and Netns; istiod creates the ZDS sockets and bootstrap
// directories.
type Layout struct{ Dir string }

// InputDir is the controlplane.WriteInput directory.
func (l Layout) InputDir() string { return filepath.Join(l.Dir, "input") }

// InputVersion names the input's current generation ("" when none):
// controlplane.WriteInput swaps the "current" link to a new generation on
// every write, so an unchanged name means an unchanged input.
func (l Layout) InputVersion() string {
	v, _ := os.Readlink(filepath.Join(l.InputDir(), "current"))
	return v
}

// NetnsFile maps pods to their network namespaces (WriteNetns).
func (l Layout) NetnsFile() string { return filepath.Join(l.Dir, "netns.json") }

// ZDSSocket is node's node-agent socket, which its ztunnel dials.
func (l Layout) ZDSSocket(node string) string { return filepath.Join(l.Dir, "zds", node+".sock") }

// BootstrapDir holds node's ztunnel credentials (app.LoadBootstrap).
func (l Layout) BootstrapDir(node string) string { return filepath.Join(l.Dir, "bootstrap", node) }

// PodBootstrapDir holds the pod-bound credential of pod namespace/name (a
// waypoint): the same three files as BootstrapDir (identity.LoadBootstrap),
// written root last, removed when the pod is deleted.
func (l Layout) PodBootstrapDir(namespace, pod string) string {
	return filepath.Join(l.podBootstrapRoot(), namespace, pod)
}

func (l Layout) podBootstrapRoot() string { return filepath.Join(l.Dir, "pod-bootstrap") }

// CADir holds the CA's root, key and bootstrap bindings (ca.Open), so that
// a restarted istiod keeps its root and honours the credentials above.
func (l Layout) CADir() string { return filepath.Join(l.Dir, "ca") }

// NetnsRef locates a pod's network namespace: a path another process can
// open (the simulator's own fd, /proc/<pid>/fd/<n>, held for the pod's
// whole life) and the namespace's inode, which the opener checks so that a
// reused fd number can never hand over the wrong pod.
type NetnsRef struct {
	Path  string `json:"path"`
	Inode uint64 `json:"inode"`
}

// WriteNetns atomically replaces the pod-key ("ns/name") → namespace map.
func WriteNetns(path string, pods map[string]NetnsRef) error {
	b, err := json.Marshal(pods)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadNetns reads the map; a missing file is an empty map.
func ReadNetns(path string) (map[string]NetnsRef, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]NetnsRef{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]NetnsRef{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("istiod: %s: %w", path, err)
	}
	return out, nil
}
