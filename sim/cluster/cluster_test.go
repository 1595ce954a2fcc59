package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func TestMain(m *testing.M) {
	if sandbox.Main() {
		return
	}
	os.Exit(sandbox.RunTestsInSandbox(m))
}

func testConfig(tb testing.TB, nodes int) Config {
	tb.Helper()
	testutil.RequireRoot(tb)
	cfg := DefaultConfig()
	cfg.Name = "unit"
	cfg.Nodes = nodes
	cfg.StateDir = tb.TempDir()
	cfg.WorkloadBinary = filepath.Join(testutil.MustBinDir(tb), "ambientlab-workload")
	return cfg
}

// mustDecode decodes without cross-object validation, as apply/delete do
// (their references are checked against the cluster's objects).
func mustDecode(tb testing.TB, name, doc string) *manifest.Set {
	tb.Helper()
	s, err := manifest.Decode(name, []byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustLoad(tb testing.TB, name, doc string) *manifest.Set {
	tb.Helper()
	s, err := manifest.Load(name, []byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// run executes argv (host binary) in target and returns stdout and the exit code.
func run(tb testing.TB, c *Cluster, target string, argv ...string) (string, int) {
	tb.Helper()
	out, _, code := runWithStderr(tb, c, target, argv...)
	return out, code
}

// runWithStderr is run that also returns what the command wrote to stderr.
func runWithStderr(tb testing.TB, c *Cluster, target string, argv ...string) (stdout, stderr string, code int) {
	tb.Helper()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	var out, errOut bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { out.ReadFrom(outR); done <- struct{}{} }()
	go func() { errOut.ReadFrom(errR); done <- struct{}{} }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := c.Exec(ctx, ExecRequest{Target: target, Argv: argv, Stdio: [3]*os.File{devnull, outW, errW}}, nil)
	outW.Close()
	errW.Close()
	<-done
	<-done
	outR.Close()
	errR.Close()
	if err != nil {
		tb.Fatalf("exec %v: %v", argv, err)
	}
	return out.String(), errOut.String(), code
}

const baseManifest = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: docker.io/kennethreitz/httpbin, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{port: 8000, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: demo}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers: [{name: c, image: curlimages/curl, command: ["/bin/sleep", "infinity"]}]
`

func TestApplyDeleteConverge(t *testing.T) {
	cfg := testConfig(t, 2)
	ctx := context.Background()
	c, err := Up(ctx, cfg, mustLoad(t, "base.yaml", baseManifest))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	curl := "/usr/bin/curl"
	if _, err := os.Stat(curl); err != nil {
		t.Fatal("curl is required")
	}
	// Both replicas answer through the VIP.
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		out, code := run(t, c, "demo/deploy/client", curl, "-sS", "--max-time", "5", "http://web.demo:8000/echo.json")
		if code != 0 {
			t.Fatalf("curl exit %d: %s", code, out)
		}
		var report struct{ Pod string }
		if err := json.Unmarshal([]byte(out), &report); err != nil || report.Pod == "" {
			t.Fatalf("echo report %q: %v", out, err)
		}
		seen[report.Pod] = true
	}
	if len(seen) != 2 {
		t.Errorf("VIP reached %d distinct backends, want 2: %v", len(seen), seen)
	}

	before := map[string]string{}
	for _, p := range c.Model().Pods {
		before[p.Key()] = p.IP.String()
	}
	// Scale to 3 and add a Service: existing pods keep their addresses.
	scaled := strings.Replace(baseManifest, "replicas: 2", "replicas: 3", 1)
	lines, err := c.Apply(ctx, mustLoad(t, "scaled.yaml", scaled))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "deployment.apps/web (namespace demo) configured") {
		t.Errorf("apply lines: %v", lines)
	}
	webPods := 0
	for _, p := range c.Model().Pods {
		if ip, ok := before[p.Key()]; ok && ip != p.IP.String() {
			t.Errorf("pod %s moved from %s to %s", p.Key(), ip, p.IP)
		}
		if p.OwnerName == "web" {
			webPods++
		}
	}
	if webPods != 3 {
		t.Errorf("web pods = %d, want 3", webPods)
	}

	// An invalid apply changes nothing.
	bad, err := manifest.Decode("bad.yaml", []byte(`apiVersion: v1
kind: Service
metadata: {name: other, namespace: nowhere}
spec: {ports: [{port: 80}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	podsBefore := len(c.Model().Pods)
	if _, err := c.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), `bad.yaml:3: Service nowhere/other: metadata.namespace: namespace "nowhere" is not declared`) {
		t.Errorf("apply into a missing namespace: %v", err)
	}
	if n := len(c.Model().Pods); n != podsBefore {
		t.Errorf("a rejected apply changed the pod count from %d to %d", podsBefore, n)
	}

	// Delete the Service: its name stops resolving, the pods stay.
	if _, err := c.Delete(ctx, mustDecode(t, "svc.yaml", `apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
`)); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, c, "demo/deploy/client", curl, "-sS", "--max-time", "5", "http://web.demo:8000/"); code == 0 {
		t.Errorf("deleted Service still answers: %s", out)
	}
	if _, err := c.Delete(ctx, mustDecode(t, "svc.yaml", `apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
`)); err == nil {
		t.Error("deleting a missing Service succeeded")
	}
}

func TestCrashedContainerRestarts(t *testing.T) {
	cfg := testConfig(t, 1)
	c, err := Up(context.Background(), cfg, mustLoad(t, "base.yaml", baseManifest))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pr, err := c.podRuntime("demo/deploy/web")
	if err != nil {
		t.Fatal(err)
	}
	ct := pr.containers[0]
	ct.mu.Lock()
	pid := ct.cmd.Process.Pid
	ct.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ct.mu.Lock()
		restarted := ct.restarts == 1 && ct.ready
		ct.mu.Unlock()
		if restarted {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("container was not restarted and ready within 15s")
}

// benchManifest is n httpbin pods behind n/10 Services in one namespace.
func benchManifest(pods int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n")
	deployments := max(pods/10, 1)
	for d := 0; d < deployments; d++ {
		replicas := pods / deployments
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%d, namespace: bench}
spec:
  replicas: %d
  selector: {matchLabels: {app: app-%d}}
  template:
    metadata: {labels: {app: app-%d}}
    spec:
      containers: [{name: app, image: docker.io/kennethreitz/httpbin, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: app-%d, namespace: bench}
spec:
  selector: {app: app-%d}
  ports: [{port: 80}]
`, d, replicas, d, d, d, d)
	}
	return b.String()
}

func benchmarkUp(b *testing.B, nodes, pods int) {
	cfg := testConfig(b, nodes)
	cfg.Parallelism = 16
	set := mustLoad(b, "bench.yaml", benchManifest(pods))
	var rss, pss, used float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		availBefore := memAvailable(b)
		b.StartTimer()
		c, err := Up(context.Background(), cfg, set)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		used = availBefore - memAvailable(b)
		rss, pss = memoryOf(c.ProcessIDs())
		self, selfPss := memoryOf([]int{os.Getpid()})
		rss += self
		pss += selfPss
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(pods)/(b.Elapsed().Seconds()/float64(b.N)), "pods/s")
	b.ReportMetric(rss/(1<<20), "total-rss-MiB")
	b.ReportMetric(pss/(1<<20), "total-pss-MiB")
	b.ReportMetric(used/(1<<20), "system-mem-used-MiB")
}

// memAvailable reads MemAvailable (bytes): the drop across Up is everything
// the cluster costs the machine — processes, kernel namespaces, sockets, tmpfs.
func memAvailable(tb testing.TB) float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	tb.Fatal("no MemAvailable in /proc/meminfo")
	return 0
}

// BenchmarkUp2Nodes10Pods: issue #2 target ≤ 1 s per cluster ready.
func BenchmarkUp2Nodes10Pods(b *testing.B) { benchmarkUp(b, 2, 10) }

// BenchmarkUp10Nodes1000Pods: issue #2 target ≤ 30 s and ≤ 2 GiB total.
func BenchmarkUp10Nodes1000Pods(b *testing.B) { benchmarkUp(b, 10, 1000) }

func TestConfigRejectsStateDirTooLongForSockets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WorkloadBinary = os.Args[0] // exists
	cfg.StateDir = "/tmp/" + strings.Repeat("d", 90)
	err := cfg.validate()
	if err == nil || !strings.Contains(err.Error(), "too long for the mesh's unix sockets") {
		t.Fatalf("validate() = %v", err)
	}
	cfg.StateDir = "/tmp/short"
	if err := cfg.validate(); err != nil {
		t.Fatalf("short state dir rejected: %v", err)
	}
}
