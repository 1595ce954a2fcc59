package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/workload/loadgen"
)

// echoPort is the echo server's raw TCP port (a tcp-* name makes the echo
// workload speak raw TCP there; sim/topology/images.go).
const echoPort = 9000

// pairManifest is, per namespace, a TCP echo server pinned to node-1 and an
// idle client pinned to node-0, so every measured byte crosses nodes: the
// raw path is pod veth → node → node → pod veth, the ambient path the same
// wire carrying HBONE between the two nodes' ztunnels.
func pairManifest(namespaces ...string) string {
	var b strings.Builder
	for i, ns := range namespaces {
		if i > 0 {
			b.WriteString("---\n")
		}
		labels := ""
		if ns == nsAmbient {
			labels = ", labels: {istio.io/dataplane-mode: ambient}"
		}
		fmt.Fprintf(&b, `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s%[2]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      nodeName: node-1
      containers: [{name: echo, image: ambientlab.io/tcp-echo, ports: [{name: tcp-echo, containerPort: %[3]d}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      nodeName: node-0
      containers: [{name: client, image: curlimages/curl, command: ["/bin/sleep", "infinity"]}]
`, ns, labels, echoPort)
	}
	return b.String()
}

const (
	nsRaw     = "raw"
	nsAmbient = "ambient"
)

// benchCluster is a running cluster with the pairs of pairManifest.
type benchCluster struct {
	*cluster.Cluster
	workload string // ambientlab-workload, exec'd as the client
}

func upPairs(b *testing.B, namespaces ...string) *benchCluster {
	b.Helper()
	testutil.RequireRoot(b)
	bin := testutil.MustBinDir(b)
	cfg := cluster.DefaultConfig()
	cfg.Name = "bench"
	cfg.Nodes = 2
	cfg.StateDir = b.TempDir()
	cfg.WorkloadBinary = filepath.Join(bin, "ambientlab-workload")
	cfg.MeshBinary = filepath.Join(bin, "ambientlab")
	set, err := manifest.Load("pairs.yaml", []byte(pairManifest(namespaces...)))
	if err != nil {
		b.Fatal(err)
	}
	c, err := cluster.Up(context.Background(), cfg, set)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &benchCluster{Cluster: c, workload: cfg.WorkloadBinary}
}

// echoAddr is the echo pod's IP and port in ns: a pod IP, not a Service,
// so the raw path has no DNAT and both paths reach the same kind of
// destination.
func (c *benchCluster) echoAddr(b *testing.B, ns string) string {
	b.Helper()
	return fmt.Sprintf("%s:%d", c.podIP(b, ns+"/deploy/echo"), echoPort)
}

// podIP is the IP of target's pod.
func (c *benchCluster) podIP(b *testing.B, target string) string {
	b.Helper()
	p, err := cluster.ResolveTarget(c.Model(), target)
	if err != nil {
		b.Fatal(err)
	}
	return p.IP.String()
}

// loadgen runs `ambientlab-workload loadgen args...` in ns's client pod,
// bounded by timeout (which is also passed to loadgen), and decodes its
// result. Any failure fails the benchmark: a failed run is never recorded.
func (c *benchCluster) loadgen(b *testing.B, ns string, timeout time.Duration, args ...string) loadgen.Result {
	b.Helper()
	argv := append([]string{c.workload, "loadgen", "--timeout", timeout.String()}, args...)
	stdout, stderr, code, err := c.exec(ns+"/deploy/client", timeout+10*time.Second, argv)
	if err != nil || code != 0 {
		b.Fatalf("%s: loadgen %v: exit %d, %v: %s", ns, args, code, err, stderr)
	}
	var res loadgen.Result
	if err := json.Unmarshal(stdout, &res); err != nil {
		b.Fatalf("%s: loadgen %v: result %q: %v", ns, args, stdout, err)
	}
	return res
}

// exec runs argv in target and returns its stdout, stderr and exit code.
func (c *benchCluster) exec(target string, timeout time.Duration, argv []string) (stdout, stderr []byte, code int, err error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, -1, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, -1, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, -1, err
	}
	defer devnull.Close()
	var out, errOut bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { out.ReadFrom(outR); outR.Close(); done <- struct{}{} }()
	go func() { errOut.ReadFrom(errR); errR.Close(); done <- struct{}{} }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err = c.Exec(ctx, cluster.ExecRequest{Target: target, Argv: argv, Stdio: [3]*os.File{devnull, outW, errW}}, nil)
	outW.Close()
	errW.Close()
	<-done
	<-done
	return out.Bytes(), errOut.Bytes(), code, err
}

// ztunnelPIDs are the processes of the ztunnel pods: the cluster's
// container processes whose command is `ambientlab ztunnel …`.
func (c *benchCluster) ztunnelPIDs(b *testing.B) []int {
	b.Helper()
	var pids []int
	for _, pid := range c.ProcessIDs() {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue // exited since ProcessIDs
		}
		if argv := strings.Split(string(raw), "\x00"); len(argv) > 1 && argv[1] == "ztunnel" {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	if len(pids) != 2 {
		b.Fatalf("found ztunnel pids %v, want one per node (2)", pids)
	}
	return pids
}

// environment is what perf-method.md §4 asks to record next to results.
func environment() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	model := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, Linux %s, %d CPUs (%s), bench GOMAXPROCS %d; loadgen, echo, relays and ztunnels GOMAXPROCS 1",
		runtime.Version(), strings.TrimSpace(string(kernel)), runtime.NumCPU(), model, runtime.GOMAXPROCS(0))
}
