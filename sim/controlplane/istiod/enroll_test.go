package istiod

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/sim/controlplane/nodeagent"
	"github.com/ambientlab/ambientlab/sim/redirect"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// recordingRedirector stands in for the nftables rules: it records which
// calls the agent made.
type recordingRedirector struct {
	mu              sync.Mutex
	applied, remove int
}

func (r *recordingRedirector) Apply(int, redirect.Options) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied++
	return nil
}

func (r *recordingRedirector) Remove(int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remove++
	return nil
}

func (r *recordingRedirector) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied, r.remove
}

// ownNetns refers to the test process's own network namespace: a real
// nsfs file whose inode the enroller checks.
func ownNetns(t *testing.T) NetnsRef {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return NetnsRef{Path: "/proc/self/ns/net", Inode: st.Ino}
}

func pod(ns, name, node string, labels map[string]string) topology.Pod {
	return topology.Pod{Namespace: ns, Name: name, Node: node, ServiceAccount: "sa-" + name, Labels: labels}
}

func newTestEnroller(t *testing.T, r nodeagent.Redirector, nodes ...string) *enroller {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &enroller{agents: map[string]*nodeagent.Server{}, log: log, ackTimeout: nodeagent.DefaultConfig().AckTimeout, enrolled: map[string]enrolledPod{}}
	for _, n := range nodes {
		cfg := nodeagent.DefaultConfig()
		cfg.SocketPath, cfg.Logger, cfg.Redirector = filepath.Join(t.TempDir(), n+".sock"), log, r
		a, err := nodeagent.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		e.agents[n] = a
	}
	return e
}

func uidsOf(a *nodeagent.Server) []string {
	var out []string
	for _, p := range a.Pods() {
		out = append(out, p.UID)
	}
	return out
}

func TestCapturedFollowsEnrollmentRules(t *testing.T) {
	c := &topology.Cluster{
		Namespaces: []topology.Namespace{{Name: "amb", Labels: map[string]string{"istio.io/dataplane-mode": "ambient"}}, {Name: "plain"}},
		Pods: []topology.Pod{
			pod("amb", "in", "node-0", nil),
			pod("amb", "optout", "node-0", map[string]string{"istio.io/dataplane-mode": "none"}),
			pod("plain", "optin", "node-1", map[string]string{"istio.io/dataplane-mode": "ambient"}),
			pod("plain", "out", "node-1", nil),
		},
	}
	sys := pod("amb", "system", "node-0", nil)
	sys.System = true
	c.Pods = append(c.Pods, sys)
	var got []string
	for k := range Captured(c) {
		got = append(got, k)
	}
	slices.Sort(got)
	if want := []string{"amb/in", "plain/optin"}; !slices.Equal(got, want) {
		t.Errorf("Captured = %v, want %v", got, want)
	}
}

// TestSyncEnrollsAndReleases drives real node agents (no ztunnel
// connected: adds are partial, which counts as enrolled, as istio-cni's
// cache does) through adds, a pending pod, unenrollment and deletion.
func TestSyncEnrollsAndReleases(t *testing.T) {
	r := &recordingRedirector{}
	e := newTestEnroller(t, r, "node-0", "node-1")
	ref := ownNetns(t)
	amb := map[string]string{"istio.io/dataplane-mode": "ambient"}
	c := &topology.Cluster{Pods: []topology.Pod{pod("a", "one", "node-0", amb), pod("a", "two", "node-1", amb), pod("a", "later", "node-1", amb)}}
	refs := map[string]NetnsRef{"a/one": ref, "a/two": ref} // a/later's netns is not published yet
	ctx := context.Background()

	if pending := e.sync(ctx, c, refs); pending != 1 {
		t.Errorf("pending = %d, want 1 (a/later)", pending)
	}
	if got := uidsOf(e.agents["node-0"]); !slices.Equal(got, []string{"Kubernetes//Pod/a/one"}) {
		t.Errorf("node-0 agent pods %v", got)
	}
	if got := uidsOf(e.agents["node-1"]); !slices.Equal(got, []string{"Kubernetes//Pod/a/two"}) {
		t.Errorf("node-1 agent pods %v", got)
	}
	if applied, _ := r.counts(); applied != 2 {
		t.Errorf("rules applied %d times, want 2", applied)
	}
	// Nothing changed: no new adds.
	e.sync(ctx, c, refs)
	if applied, _ := r.counts(); applied != 2 {
		t.Errorf("an unchanged input re-applied rules (%d)", applied)
	}

	// a/one leaves ambient (rules removed), a/two is deleted (its rules go
	// with its namespace), a/later's namespace arrives.
	c = &topology.Cluster{Pods: []topology.Pod{pod("a", "one", "node-0", map[string]string{"istio.io/dataplane-mode": "none"}), pod("a", "later", "node-1", amb)}}
	refs = map[string]NetnsRef{"a/one": ref, "a/later": ref}
	if pending := e.sync(ctx, c, refs); pending != 0 {
		t.Errorf("pending = %d, want 0", pending)
	}
	if got := uidsOf(e.agents["node-0"]); len(got) != 0 {
		t.Errorf("node-0 agent still has %v", got)
	}
	if got := uidsOf(e.agents["node-1"]); !slices.Equal(got, []string{"Kubernetes//Pod/a/later"}) {
		t.Errorf("node-1 agent pods %v", got)
	}
	if applied, removed := r.counts(); applied != 3 || removed != 1 {
		t.Errorf("rules applied %d / removed %d, want 3 / 1 (only the unenrolled pod's rules are removed)", applied, removed)
	}
}

func TestSyncRefusesStaleNetns(t *testing.T) {
	e := newTestEnroller(t, &recordingRedirector{}, "node-0")
	ref := ownNetns(t)
	ref.Inode++ // the published fd now names another namespace
	c := &topology.Cluster{Pods: []topology.Pod{pod("a", "one", "node-0", map[string]string{"istio.io/dataplane-mode": "ambient"})}}
	if pending := e.sync(context.Background(), c, map[string]NetnsRef{"a/one": ref}); pending != 1 {
		t.Errorf("pending = %d, want 1: a stale netns must not be enrolled", pending)
	}
	if got := uidsOf(e.agents["node-0"]); len(got) != 0 {
		t.Errorf("enrolled %v from a stale netns", got)
	}
}

func TestPodIdentitiesAnswerByNode(t *testing.T) {
	c := &topology.Cluster{TrustDomain: "cluster.local", Pods: []topology.Pod{
		{Namespace: "a", Name: "x", Node: "node-0", ServiceAccount: "sleep"},
		{Namespace: "a", Name: "y", Node: "node-1"},
	}}
	p := newPodIdentities(c)
	id := func(ns, sa string) identity.Identity {
		return identity.Identity{TrustDomain: "cluster.local", Namespace: ns, ServiceAccount: sa}
	}
	for _, tc := range []struct {
		node string
		id   identity.Identity
		want bool
	}{
		{"node-0", id("a", "sleep"), true},
		{"node-1", id("a", "sleep"), false},
		{"node-1", id("a", "default"), true}, // an empty service account is "default"
		{"node-0", id("b", "sleep"), false},
	} {
		if got := p.IdentityOnNode(tc.node, tc.id); got != tc.want {
			t.Errorf("IdentityOnNode(%s, %s) = %v, want %v", tc.node, tc.id, got, tc.want)
		}
	}
	p.update(&topology.Cluster{TrustDomain: "cluster.local"})
	if p.IdentityOnNode("node-0", id("a", "sleep")) {
		t.Error("a pod that left is still authorized")
	}
}

func TestNetnsMapRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m", "netns.json")
	if m, err := ReadNetns(path); err != nil || len(m) != 0 {
		t.Fatalf("missing map: %v, %v", m, err)
	}
	want := map[string]NetnsRef{"a/b": {Path: "/proc/1/fd/7", Inode: 42}}
	if err := WriteNetns(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNetns(path)
	if err != nil || len(got) != 1 || got["a/b"] != want["a/b"] {
		t.Errorf("ReadNetns = %v, %v", got, err)
	}
}
