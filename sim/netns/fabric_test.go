package netns_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/sandbox"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// buildFabric brings up nodes×pods with the default plan and registers Close.
func buildFabric(t testing.TB, nodes, pods int) (*netns.Fabric, []*netns.Pod) {
	t.Helper()
	plan := topology.DefaultAddressPlan()
	f, err := netns.NewFabric(plan, nil)
	if err != nil {
		t.Fatalf("NewFabric: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Fabric.Close: %v", err)
		}
	})
	ctx := context.Background()
	var all []*netns.Pod
	for i := range nodes {
		spec := topology.Node{Name: fmt.Sprintf("node-%d", i), Index: i, IP: plan.NodeIP(i), PodCIDR: plan.NodePodCIDR(i)}
		n, err := f.AddNode(ctx, spec)
		if err != nil {
			t.Fatalf("AddNode: %v", err)
		}
		for j := range pods {
			p, err := n.AddPod(ctx, topology.Pod{Namespace: "default", Name: fmt.Sprintf("p%d-%d", i, j), Node: spec.Name, IP: plan.PodIP(i, j)})
			if err != nil {
				t.Fatalf("AddPod: %v", err)
			}
			all = append(all, p)
		}
	}
	return f, all
}

// serveRemoteAddr answers each connection with the peer address it saw.
func serveRemoteAddr(t *testing.T, l net.Listener) {
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

func TestPodToPodConnectivity(t *testing.T) {
	sandbox.Require(t)
	_, pods := buildFabric(t, 2, 3)
	for _, p := range pods {
		l, err := p.NS().Listen("tcp4", net.JoinHostPort(p.Spec().IP.String(), "8080"))
		if err != nil {
			t.Fatal(err)
		}
		serveRemoteAddr(t, l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, src := range pods {
		for _, dst := range pods {
			if src == dst {
				continue
			}
			c, err := src.NS().DialContext(ctx, "tcp4", net.JoinHostPort(dst.Spec().IP.String(), "8080"))
			if err != nil {
				t.Fatalf("%s -> %s: %v", src.Spec().Name, dst.Spec().Name, err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				t.Fatalf("%s -> %s: read: %v", src.Spec().Name, dst.Spec().Name, err)
			}
			if got := strings.TrimSpace(line); got != src.Spec().IP.String() {
				t.Errorf("%s -> %s: server saw source %s, want %s (no NAT)", src.Spec().Name, dst.Spec().Name, got, src.Spec().IP)
			}
		}
	}
}

func TestPodCannotReachOutsidePlan(t *testing.T) {
	sandbox.Require(t)
	_, pods := buildFabric(t, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, dst := range []string{"198.19.200.2:80", "8.8.8.8:53", "10.0.0.1:80"} {
		_, err := pods[0].NS().DialContext(ctx, "tcp4", dst)
		if err == nil {
			t.Fatalf("dial %s from a pod succeeded; the fabric must not route outside the plan", dst)
		}
		if !errors.Is(err, unix.ENETUNREACH) && !errors.Is(err, unix.EHOSTUNREACH) {
			t.Errorf("dial %s: got %v, want a no-route error (not a timeout)", dst, err)
		}
	}
}

func TestTeardownFreesNamespaces(t *testing.T) {
	sandbox.Require(t)
	plan := topology.DefaultAddressPlan()
	f, err := netns.NewFabric(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.AddNode(context.Background(), topology.Node{Name: "n0", IP: plan.NodeIP(0), PodCIDR: plan.NodePodCIDR(0)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := n.AddPod(context.Background(), topology.Pod{Namespace: "a", Name: "b", IP: plan.PodIP(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var inodes []uint64
	for _, ns := range []*netns.NS{n.NS(), p.NS()} {
		ino, err := ns.Inode()
		if err != nil {
			t.Fatal(err)
		}
		inodes = append(inodes, ino)
	}
	held := netnsInodesHeld(t)
	for _, ino := range inodes {
		if !held[ino] {
			t.Fatalf("inode %d not found among held namespaces before Close; the probe is broken", ino)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	held = netnsInodesHeld(t)
	for _, ino := range inodes {
		if held[ino] {
			t.Errorf("netns inode %d still held after Fabric.Close", ino)
		}
	}
	if _, err := net.InterfaceByName(netns.BridgeName); err == nil {
		t.Errorf("%s still exists after Close", netns.BridgeName)
	}
	// A second fabric can be built right away in the same namespace.
	f2, err := netns.NewFabric(plan, nil)
	if err != nil {
		t.Fatalf("rebuild after Close: %v", err)
	}
	f2.Close()
}

// netnsInodesHeld lists netns inodes referenced by any fd or task of this
// sandbox (the only holders an anonymous namespace can have).
func netnsInodesHeld(t testing.TB) map[uint64]bool {
	t.Helper()
	out := map[uint64]bool{}
	procs, _ := os.ReadDir("/proc")
	for _, pe := range procs {
		if _, err := strconv.Atoi(pe.Name()); err != nil {
			continue
		}
		var links []string
		fds, _ := os.ReadDir("/proc/" + pe.Name() + "/fd")
		for _, fd := range fds {
			links = append(links, "/proc/"+pe.Name()+"/fd/"+fd.Name())
		}
		tasks, _ := os.ReadDir("/proc/" + pe.Name() + "/task")
		for _, task := range tasks {
			links = append(links, "/proc/"+pe.Name()+"/task/"+task.Name()+"/ns/net")
		}
		for _, l := range links {
			target, err := os.Readlink(l)
			if err != nil || !strings.HasPrefix(target, "net:[") {
				continue
			}
			if ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "net:["), "]"), 10, 64); err == nil {
				out[ino] = true
			}
		}
	}
	return out
}

func TestAddPodRejectsBadInput(t *testing.T) {
	sandbox.Require(t)
	f, _ := buildFabric(t, 1, 1)
	n, _ := f.Node("node-0")
	plan := f.Plan()
	cases := []struct {
		name string
		pod  topology.Pod
	}{
		{"duplicate key", topology.Pod{Namespace: "default", Name: "p0-0", IP: plan.PodIP(0, 5)}},
		{"ip outside node cidr", topology.Pod{Namespace: "x", Name: "y", IP: plan.PodIP(1, 0)}},
		{"wrong node", topology.Pod{Namespace: "x", Name: "z", Node: "node-9", IP: plan.PodIP(0, 6)}},
		{"no ip", topology.Pod{Namespace: "x", Name: "w"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := n.AddPod(context.Background(), tc.pod); err == nil {
				t.Fatalf("AddPod(%+v) succeeded, want error", tc.pod)
			}
		})
	}
	if got := len(n.Pods()); got != 1 {
		t.Errorf("after rejected adds node has %d pods, want 1", got)
	}
}

func TestRemovePod(t *testing.T) {
	sandbox.Require(t)
	f, pods := buildFabric(t, 1, 2)
	n, _ := f.Node("node-0")
	key := pods[0].Spec().Key()
	ctx := context.Background()
	if err := n.RemovePod(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := n.RemovePod(ctx, key); !errors.Is(err, netns.ErrNotFound) {
		t.Errorf("second RemovePod = %v, want ErrNotFound", err)
	}
	h, err := n.NS().Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName(pods[0].HostVeth()); err == nil {
		t.Errorf("host veth %s still exists after RemovePod", pods[0].HostVeth())
	}
	// The freed address can be reused by a new pod.
	if _, err := n.AddPod(ctx, topology.Pod{Namespace: "default", Name: "again", IP: pods[0].Spec().IP}); err != nil {
		t.Fatalf("re-adding pod with the same IP: %v", err)
	}
}

func TestConcurrentAddPod(t *testing.T) {
	sandbox.Require(t)
	f, _ := buildFabric(t, 2, 0)
	plan := f.Plan()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 2 {
		n, _ := f.Node(fmt.Sprintf("node-%d", i))
		for j := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := n.AddPod(context.Background(), topology.Pod{Namespace: "c", Name: fmt.Sprintf("p%d-%d", i, j), IP: plan.PodIP(i, j)})
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Cross-node reachability after the concurrent build.
	a, _ := f.Node("node-0")
	b, _ := f.Node("node-1")
	pa, pb := a.Pods()[7], b.Pods()[13]
	l, err := pb.NS().Listen("tcp4", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	serveRemoteAddr(t, l)
	c, err := pa.NS().DialContext(context.Background(), "tcp4", netip.AddrPortFrom(pb.Spec().IP, 9000).String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	c.Close()
	if strings.TrimSpace(string(got)) != pa.Spec().IP.String() {
		t.Errorf("server saw %q, want %s", got, pa.Spec().IP)
	}
}

func TestNewFabricRefusesHostLikeNamespace(t *testing.T) {
	sandbox.Require(t)
	f, _ := buildFabric(t, 1, 0)
	// A second fabric in the same namespace must be refused, not merged.
	if f2, err := netns.NewFabric(f.Plan(), nil); err == nil {
		f2.Close()
		t.Fatal("second NewFabric in one namespace succeeded")
	}
}

func statIno(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

func TestAddNodeRejectsBadInput(t *testing.T) {
	sandbox.Require(t)
	f, _ := buildFabric(t, 1, 0)
	plan := f.Plan()
	cases := []struct {
		name string
		node topology.Node
	}{
		{"duplicate name", topology.Node{Name: "node-0", Index: 5, IP: plan.NodeIP(5), PodCIDR: plan.NodePodCIDR(5)}},
		{"no ip", topology.Node{Name: "x", Index: 6, PodCIDR: plan.NodePodCIDR(6)}},
		{"no pod cidr", topology.Node{Name: "y", Index: 7, IP: plan.NodeIP(7)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.AddNode(context.Background(), tc.node); err == nil {
				t.Fatalf("AddNode(%+v) succeeded, want error", tc.node)
			}
		})
	}
	if got := len(f.Nodes()); got != 1 {
		t.Errorf("after rejected adds the fabric has %d nodes, want 1", got)
	}
	// The rejected names are free again, and a closed fabric refuses work.
	if _, err := f.AddNode(context.Background(), topology.Node{Name: "x", Index: 6, IP: plan.NodeIP(6), PodCIDR: plan.NodePodCIDR(6)}); err != nil {
		t.Errorf("re-adding a rejected name: %v", err)
	}
	f.Close()
	if _, err := f.AddNode(context.Background(), topology.Node{Name: "z", Index: 8, IP: plan.NodeIP(8), PodCIDR: plan.NodePodCIDR(8)}); !errors.Is(err, netns.ErrClosed) {
		t.Errorf("AddNode after Close = %v, want ErrClosed", err)
	}
}
