package istiod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/controlplane"
	"github.com/ambientlab/ambientlab/sim/controlplane/nodeagent"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// enroller plays istio-cni's pod controller: it diffs the captured pods of
// each input against what it enrolled before and drives the node agents.
type enroller struct {
	agents     map[string]*nodeagent.Server // by node
	log        *slog.Logger
	ackTimeout time.Duration

	// enrolled is only touched by sync's caller goroutine (the reload loop)
	// and by sync's per-node workers, each on its own node's entries.
	mu       sync.Mutex
	enrolled map[string]enrolledPod // by pod key
}

type enrolledPod struct {
	uid, node string
	inode     uint64
}

// wantedPod is a captured pod with a known namespace.
type wantedPod struct {
	pod   nodeagent.Pod
	node  string
	netns NetnsRef
}

// Captured lists the pods of c that belong in ambient (nodeagent.Enrolled),
// keyed by pod key; system pods never are.
func Captured(c *topology.Cluster) map[string]topology.Pod {
	ns := map[string]map[string]string{}
	for _, n := range c.Namespaces {
		ns[n.Name] = n.Labels
	}
	out := map[string]topology.Pod{}
	for _, p := range c.Pods {
		if p.System || !nodeagent.Enrolled(nodeagent.Enrollment{NamespaceLabels: ns[p.Namespace], PodLabels: p.Labels, PodAnnotations: p.Annotations}) {
			continue
		}
		out[p.Key()] = p
	}
	return out
}

// sync enrolls every captured pod whose namespace is known and removes the
// ones no longer captured. Nodes are handled in parallel; within a node the
// agent serialises anyway. It returns how many pods are still pending
// (namespace not yet published, or an add that failed and is retried).
func (e *enroller) sync(ctx context.Context, c *topology.Cluster, refs map[string]NetnsRef) int {
	want := Captured(c)
	inModel := map[string]bool{}
	for _, p := range c.Pods {
		inModel[p.Key()] = true
	}
	type work struct {
		adds    []wantedPod
		removes []removal
	}
	perNode := map[string]*work{}
	at := func(node string) *work {
		if perNode[node] == nil {
			perNode[node] = &work{}
		}
		return perNode[node]
	}
	pending := 0
	e.mu.Lock()
	for key, p := range want {
		ref, ok := refs[key]
		if !ok {
			pending++
			continue
		}
		if cur, ok := e.enrolled[key]; ok && cur.node == p.Node && cur.inode == ref.Inode {
			continue
		}
		at(p.Node).adds = append(at(p.Node).adds, wantedPod{node: p.Node, netns: ref, pod: nodeagent.Pod{
			UID: controlplane.WorkloadUID(p.Namespace, p.Name), Name: p.Name, Namespace: p.Namespace, ServiceAccount: p.ServiceAccount}})
	}
	for key, cur := range e.enrolled {
		p, still := want[key]
		switch {
		case still && p.Node == cur.node:
			continue // kept, or re-added above with its new namespace
		case inModel[key] && !still:
			at(cur.node).removes = append(at(cur.node).removes, removal{key, cur, nodeagent.PodUnenrolled})
		default:
			at(cur.node).removes = append(at(cur.node).removes, removal{key, cur, nodeagent.PodDeleted})
		}
	}
	e.mu.Unlock()

	var wg sync.WaitGroup
	var failed sync.Map
	for node, w := range perNode {
		agent := e.agents[node]
		if agent == nil {
			e.log.Warn("no node agent for node", "node", node)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range w.removes {
				e.remove(ctx, agent, r)
			}
			sort.Slice(w.adds, func(i, j int) bool { return w.adds[i].pod.UID < w.adds[j].pod.UID })
			for _, a := range w.adds {
				if err := e.add(ctx, agent, a); err != nil {
					failed.Store(a.pod.UID, true)
					e.log.Error("enrolling pod", "pod", a.pod.Namespace+"/"+a.pod.Name, "node", node, "error", err)
				}
			}
		}()
	}
	wg.Wait()
	failed.Range(func(any, any) bool { pending++; return true })
	return pending
}

type removal struct {
	key    string
	pod    enrolledPod
	reason nodeagent.RemoveReason
}

func (e *enroller) remove(ctx context.Context, agent *nodeagent.Server, r removal) {
	ctx, cancel := context.WithTimeout(ctx, e.ackTimeout)
	defer cancel()
	if err := agent.RemovePod(ctx, r.pod.uid, r.reason); err != nil {
		e.log.Warn("removing pod from mesh", "pod", r.key, "reason", r.reason, "error", err)
	}
	e.mu.Lock()
	if cur, ok := e.enrolled[r.key]; ok && cur == r.pod {
		delete(e.enrolled, r.key)
	}
	e.mu.Unlock()
	e.log.Info("pod left the mesh", "pod", r.key, "reason", r.reason.String())
}

// add opens the pod's namespace, checks it is the one published, and
// enrolls it. A partial add (rules in place, ztunnel not yet connected or
// not answering) counts as enrolled: the agent replays it to ztunnel.
func (e *enroller) add(ctx context.Context, agent *nodeagent.Server, w wantedPod) error {
	f, err := openNetns(w.netns)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, e.ackTimeout)
	defer cancel()
	err = agent.AddPod(ctx, w.pod, int(f.Fd()))
	var partial *nodeagent.PartialAddError
	if err != nil && !errors.As(err, &partial) {
		return err
	}
	key := w.pod.Namespace + "/" + w.pod.Name
	e.mu.Lock()
	e.enrolled[key] = enrolledPod{uid: w.pod.UID, node: w.node, inode: w.netns.Inode}
	e.mu.Unlock()
	if err != nil {
		e.log.Warn("pod captured; ztunnel will get it on (re)connect", "pod", key, "error", err)
		return nil
	}
	e.log.Info("pod enrolled in ambient", "pod", key, "node", w.node, "uid", w.pod.UID)
	return nil
}

func openNetns(ref NetnsRef) (*os.File, error) {
	f, err := os.Open(ref.Path)
	if err != nil {
		return nil, fmt.Errorf("istiod: pod netns: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Ino != ref.Inode {
		f.Close()
		return nil, fmt.Errorf("istiod: %s is netns %d, want %d (stale map)", ref.Path, st.Ino, ref.Inode)
	}
	return f, nil
}
