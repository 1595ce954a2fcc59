package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ambientlab/ambientlab/internal/testutil"
)

// These tests run bin/ambientlab exactly as a user would: `up` in one
// process, every other command from another.

type cli struct {
	t       *testing.T
	bin     string
	cluster string
}

func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--cluster", c.cluster}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			c.t.Fatalf("ambientlab %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("ambientlab %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// up starts `ambientlab up` and waits for its "is up" line.
func (c *cli) up(files ...string) *exec.Cmd {
	c.t.Helper()
	args := []string{"up", "--name", c.cluster, "--nodes", "2"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	cmd := exec.Command(c.bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				c.t.Fatalf("up exited before ready: %s", stderr.String())
			}
			if strings.Contains(l, "is up") {
				go func() {
					for range lines {
					}
				}()
				return cmd
			}
		case <-deadline:
			c.t.Fatalf("up not ready after 60s: %s", stderr.String())
		}
	}
}

func newCLI(t *testing.T) *cli {
	testutil.RequireRoot(t)
	bins := testutil.MustBinDir(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required (make deps installs it)")
	}
	return &cli{t: t, bin: filepath.Join(bins, "ambientlab"), cluster: fmt.Sprintf("e2e-%d", os.Getpid()%100000)}
}

func TestUpExecGetDown(t *testing.T) {
	c := newCLI(t)
	example := filepath.Join(testutil.RepoRoot(), "scenarios/examples/httpbin.yaml")
	up := c.up(example)

	// get pods -o json parses as a real PodList.
	var pods corev1.PodList
	if err := json.Unmarshal([]byte(c.mustRun("get", "pods", "-A", "-o", "json")), &pods); err != nil {
		t.Fatal(err)
	}
	podIP := map[string]string{}
	podName := map[string]string{}
	for _, p := range pods.Items {
		podName[p.Namespace+"/"+p.Labels["app"]] = p.Name
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s/%s phase %s", p.Namespace, p.Name, p.Status.Phase)
		}
		podIP[p.Namespace+"/"+p.Labels["app"]] = p.Status.PodIP
	}
	var svcs corev1.ServiceList
	if err := json.Unmarshal([]byte(c.mustRun("get", "svc", "-n", "demo", "-o", "json")), &svcs); err != nil {
		t.Fatal(err)
	}
	clusterIP := ""
	for _, s := range svcs.Items {
		if s.Name == "httpbin" {
			clusterIP = s.Spec.ClusterIP
		}
	}
	if clusterIP == "" || podIP["demo/httpbin"] == "" || podIP["clients/client"] == "" {
		t.Fatalf("missing objects: clusterIP=%q pods=%v", clusterIP, podIP)
	}
	table := c.mustRun("get", "pods", "-A")
	if !strings.Contains(table, "NAMESPACE") || !strings.Contains(table, "Running") {
		t.Errorf("table output:\n%s", table)
	}

	for _, url := range []string{
		"http://httpbin.demo:8000/headers",
		"http://httpbin.demo.svc.cluster.local:8000/headers",
		"http://" + clusterIP + ":8000/headers",
		"http://" + podIP["demo/httpbin"] + ":80/headers",
	} {
		out := c.mustRun("exec", "clients/deploy/client", "--", "curl", "-sS", "--max-time", "10", url)
		if !strings.Contains(out, `"headers"`) {
			t.Errorf("%s: %s", url, out)
		}
	}
	out := c.mustRun("exec", "clients/deploy/client", "--", "curl", "-sS", "http://httpbin.demo:8000/ip")
	if !strings.Contains(out, podIP["clients/client"]) {
		t.Errorf("/ip = %s, want client pod IP %s", out, podIP["clients/client"])
	}
	out = c.mustRun("exec", "clients/deploy/client", "--", "getent", "ahostsv4", "httpbin-headless.demo.svc.cluster.local")
	if !strings.Contains(out, podIP["demo/httpbin"]) {
		t.Errorf("headless lookup = %s", out)
	}
	// Exit codes pass through; stdin passes with -i.
	if _, _, code := c.run("exec", "clients/deploy/client", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
	cmd := exec.Command(c.bin, "--cluster", c.cluster, "exec", "-i", "clients/deploy/client", "--", "cat")
	cmd.Stdin = strings.NewReader("through stdin")
	if b, err := cmd.Output(); err != nil || string(b) != "through stdin" {
		t.Errorf("stdin passthrough = %q, %v", b, err)
	}
	if h := strings.TrimSpace(c.mustRun("exec", "clients/deploy/client", "--", "hostname")); !strings.HasPrefix(h, "client-") {
		t.Errorf("hostname in pod = %q", h)
	}
	// The replica addressed by pod IP above logs what it served, with the client's address.
	logs := c.mustRun("logs", "demo/"+podName["demo/httpbin"])
	if !strings.Contains(logs, " 200 "+podIP["clients/client"]+":") {
		t.Errorf("httpbin logs lack requests:\n%s", logs)
	}

	// A second terminal can apply and delete.
	extra := filepath.Join(t.TempDir(), "extra.yaml")
	os.WriteFile(extra, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: echo2, namespace: demo}
spec:
  selector: {matchLabels: {app: echo2}}
  template:
    metadata: {labels: {app: echo2}}
    spec:
      containers:
      - {name: echo, image: example.com/anything, ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo2, namespace: demo}
spec:
  selector: {app: echo2}
  ports: [{port: 80, targetPort: 8080}]
`), 0o644)
	if out := c.mustRun("apply", "-f", extra); !strings.Contains(out, "created") {
		t.Errorf("apply output: %s", out)
	}
	out = c.mustRun("exec", "clients/deploy/client", "--", "curl", "-sS", "--max-time", "10", "http://echo2.demo/ip")
	if !strings.Contains(out, podIP["clients/client"]) {
		t.Errorf("new service /ip = %s", out)
	}
	c.mustRun("delete", "-f", extra)
	if _, _, code := c.run("exec", "clients/deploy/client", "--", "curl", "-sS", "--max-time", "5", "http://echo2.demo/ip"); code == 0 {
		t.Errorf("deleted service still answers")
	}

	c.mustRun("down")
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not exit after down")
	}
	if _, _, code := c.run("get", "pods"); code == 0 {
		t.Error("get pods succeeds after down")
	}
}

// TestInvalidManifestCreatesNothing: a typo is rejected with file:line:field
// before any namespace or process exists.
func TestInvalidManifestCreatesNothing(t *testing.T) {
	c := newCLI(t)
	bad := filepath.Join(t.TempDir(), "typo.yaml")
	os.WriteFile(bad, []byte(`apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: demo}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      serviceAcountName: sleep
      containers: [{name: c, image: curlimages/curl}]
`), 0o644)
	_, stderr, code := c.run("up", "--name", c.cluster, "-f", bad)
	if code == 0 {
		t.Fatal("up accepted a manifest with a typo")
	}
	want := "typo.yaml:13"
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "serviceAcountName") {
		t.Errorf("error = %q, want it to name %s and the field", stderr, want)
	}
	if procs := processesMentioning(c.cluster); len(procs) > 0 {
		t.Errorf("processes left after a rejected up: %v", procs)
	}
	if _, err := os.Stat("/run/ambientlab/" + c.cluster + ".sock"); err == nil {
		t.Error("control socket exists after a rejected up")
	}
}

// processesMentioning lists processes whose command line contains s.
func processesMentioning(s string) []string {
	var out []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
