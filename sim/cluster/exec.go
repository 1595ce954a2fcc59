package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ambientlab/ambientlab/sim/sandbox"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// ExecRequest runs a host binary inside a pod.
type ExecRequest struct {
	Target string   // "ns/pod", "ns/deploy/name" or "ns/deployment/name"
	Argv   []string // Argv[0] must be an absolute path (the CLI resolves it on the caller's PATH)
	Env    []string // extra environment on top of the pod's
	Dir    string
	Stdio  [3]*os.File
}

// ResolveTarget finds the pod a target names. For a Deployment it picks the
// first pod by name, as kubectl does.
func ResolveTarget(m *topology.Cluster, target string) (topology.Pod, error) {
	parts := strings.Split(target, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		if p, ok := m.Pod(parts[0], parts[1]); ok {
			return p, nil
		}
		return topology.Pod{}, fmt.Errorf("pod %q not found (see `ambientlab get pods -n %s`)", target, parts[0])
	case len(parts) == 3 && (parts[1] == "deploy" || parts[1] == "deployment" || parts[1] == "deployments"):
		var pods []topology.Pod
		for _, p := range m.Pods {
			if p.Namespace == parts[0] && p.OwnerKind == "Deployment" && p.OwnerName == parts[2] {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			return topology.Pod{}, fmt.Errorf("deployment %s/%s not found or has no pods", parts[0], parts[2])
		}
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		return pods[0], nil
	}
	return topology.Pod{}, fmt.Errorf("target %q: want NAMESPACE/POD or NAMESPACE/deploy/NAME", target)
}

func (c *Cluster) podRuntime(target string) (*podRuntime, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := ResolveTarget(c.model, target)
	if err != nil {
		return nil, err
	}
	pr := c.pods[p.Key()]
	if pr == nil {
		return nil, fmt.Errorf("pod %s is not running", p.Key())
	}
	return pr, nil
}

// Exec runs req in the target pod (its network namespace, plus a private mount
// and UTS namespace carrying the pod's resolv.conf, hosts and hostname) and
// returns the exit code. Signals are forwarded; ctx cancellation kills it.
func (c *Cluster) Exec(ctx context.Context, req ExecRequest, signals <-chan int) (int, error) {
	if len(req.Argv) == 0 || !filepath.IsAbs(req.Argv[0]) {
		return -1, errors.New("exec: command must be an absolute path")
	}
	pr, err := c.podRuntime(req.Target)
	if err != nil {
		return -1, err
	}
	pod, _ := pr.snapshot()
	dir := req.Dir
	if dir == "" {
		dir = "/"
	}
	env := containerEnv(pod, topology.Container{})
	env = append(env, req.Env...)
	cmd := sandbox.PodCommand(sandbox.PodExecSpec{
		Path:       req.Argv[0],
		Args:       req.Argv,
		Env:        env,
		Dir:        dir,
		ResolvConf: filepath.Join(pr.dir, "resolv.conf"),
		Hosts:      filepath.Join(pr.dir, "hosts"),
		Hostname:   pod.Hostname,
		Stdin:      req.Stdio[0],
		Stdout:     req.Stdio[1],
		Stderr:     req.Stdio[2],
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := pr.netns.NS().Start(cmd); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", pod.Key(), err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				return
			case s := <-signals:
				syscall.Kill(-cmd.Process.Pid, syscall.Signal(s))
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return cmd.ProcessState.ExitCode(), nil
	}
	return -1, err
}

// Logs writes a container's log (the first container unless named) to w;
// with follow it keeps streaming until ctx ends or the pod goes away.
func (c *Cluster) Logs(ctx context.Context, target, containerName string, follow bool, tail int, w io.Writer) error {
	pr, err := c.podRuntime(target)
	if err != nil {
		return err
	}
	var ct *container
	for _, cand := range pr.containers {
		if containerName == "" || cand.spec.Name == containerName {
			ct = cand
			break
		}
	}
	if ct == nil {
		return fmt.Errorf("container %q not found in pod %s", containerName, pr.pod.Key())
	}
	f, err := os.Open(ct.logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if tail > 0 {
		if err := seekTail(f, tail); err != nil {
			return err
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			if !follow {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	pos := len(data)
	if pos > 0 && data[pos-1] == '\n' {
		pos--
	}
	for i := 0; i < n && pos > 0; i++ {
		j := strings.LastIndexByte(string(data[:pos]), '\n')
		pos = j
		if j < 0 {
			pos = 0
			break
		}
	}
	if pos > 0 {
		pos++
	}
	_, err = f.Seek(int64(pos), io.SeekStart)
	return err
}
