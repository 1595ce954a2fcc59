package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/topology"
	"github.com/ambientlab/ambientlab/sim/workload/clusterdns"
	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

var errPodStopping = errors.New("pod is stopping")

// podRuntime is a pod's namespace plus its container processes.
type podRuntime struct {
	c     *Cluster
	netns *netns.Pod
	dir   string // per-pod files: resolv.conf, hosts

	stopped chan struct{} // closed by stop; ends restart back-offs at once

	mu         sync.Mutex // guards the fields below
	pod        topology.Pod
	containers []*container
	stopping   bool
	startedAt  time.Time
}

// container is one container's process and its restart state.
type container struct {
	spec     topology.Container
	logPath  string
	mu       sync.Mutex // guards the fields below
	cmd      *exec.Cmd
	running  bool // started and not yet reaped
	ready    bool
	restarts int
	lastExit string
}

func (p *podRuntime) setPod(pod topology.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pod = pod
}

func (p *podRuntime) snapshot() (topology.Pod, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pod, p.startedAt
}

func podDirName(p topology.Pod) string { return p.Namespace + "_" + p.Name }

// startPod creates the pod's namespace and files and starts its containers.
// On error the partially created pod is returned so the caller can remove it.
func (c *Cluster) startPod(ctx context.Context, p topology.Pod) (*podRuntime, error) {
	node := c.nodes[p.Node]
	if node == nil {
		return nil, fmt.Errorf("node %q does not exist", p.Node)
	}
	pn, err := node.AddPod(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	pr := &podRuntime{c: c, netns: pn, pod: p, dir: filepath.Join(c.cfg.StateDir, "pods", podDirName(p)), startedAt: time.Now(), stopped: make(chan struct{})}
	if err := pr.writeFiles(); err != nil {
		return pr, err
	}
	for _, spec := range p.Containers {
		ct := &container{spec: spec, logPath: filepath.Join(c.cfg.StateDir, "logs", podDirName(p)+"_"+spec.Name+".log")}
		pr.containers = append(pr.containers, ct)
		if err := pr.startContainer(ctx, ct); err != nil {
			return pr, fmt.Errorf("container %s: %w", spec.Name, err)
		}
	}
	return pr, nil
}

func (p *podRuntime) writeFiles() error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	cfg := p.c.cfg
	if err := os.WriteFile(filepath.Join(p.dir, "resolv.conf"), clusterdns.ResolvConf(p.pod.Namespace, cfg.Plan.DNSIP, cfg.ClusterDomain), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir, "hosts"), clusterdns.HostsFile(p.pod, cfg.ClusterDomain), 0o644)
}

func (p *podRuntime) removeFiles() { os.RemoveAll(p.dir) }

// argv returns the process command line for a container.
func (p *podRuntime) argv(spec topology.Container) []string {
	bin := p.c.cfg.WorkloadBinary
	pod := p.pod
	switch spec.Workload {
	case topology.WorkloadIdle:
		return []string{bin, "idle"}
	case topology.WorkloadSystem:
		return append([]string(nil), spec.Command...)
	default:
		var httpPorts, tcpPorts []string
		for _, port := range spec.Ports {
			if port.Protocol != "" && port.Protocol != topology.ProtocolTCP {
				continue
			}
			if port.AppProtocol == topology.AppTCP {
				tcpPorts = append(tcpPorts, strconv.Itoa(int(port.Port)))
			} else {
				httpPorts = append(httpPorts, strconv.Itoa(int(port.Port)))
			}
		}
		args := []string{bin, "echo",
			"--pod", pod.Key(), "--node", pod.Node, "--sa", pod.ServiceAccount,
			"--cluster", p.c.cfg.Name, "--hostname", pod.Hostname}
		if len(httpPorts) > 0 {
			args = append(args, "--http", strings.Join(httpPorts, ","))
		}
		if len(tcpPorts) > 0 {
			args = append(args, "--tcp", strings.Join(tcpPorts, ","))
		}
		if v := pod.Labels["version"]; v != "" {
			args = append(args, "--version", v)
		}
		return args
	}
}

// startContainer starts the container's process inside the pod namespace and
// waits until it reports ready, then watches it for restarts.
func (p *podRuntime) startContainer(ctx context.Context, ct *container) error {
	argv := p.argv(ct.spec)
	logf, err := os.OpenFile(ct.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := ready.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(containerEnv(p.pod, ct.spec), ready.Env(0))
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Starting under p.mu orders this start against stop(): either stop sees
	// the process running and kills it, or we see the pod stopping and don't start.
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		w.Close()
		return errPodStopping
	}
	err = p.netns.NS().Start(cmd)
	w.Close()
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	ct.mu.Lock()
	ct.cmd = cmd
	ct.running = true
	ct.mu.Unlock()
	p.mu.Unlock()
	exited := make(chan struct{})
	p.c.procs.Add(1)
	go p.watch(ct, cmd, exited)
	rctx, cancel := context.WithTimeout(ctx, p.c.cfg.ReadyTimeout)
	defer cancel()
	if err := ready.Wait(rctx, r); err != nil {
		if errors.Is(err, ready.ErrExited) {
			<-exited
			return fmt.Errorf("%s exited before it was ready (%s); see `ambientlab logs %s`", argv[0], ct.exitReason(), p.pod.Key())
		}
		return fmt.Errorf("%s not ready: %w", argv[0], err)
	}
	ct.mu.Lock()
	ct.ready = true
	ct.mu.Unlock()
	return nil
}

func (ct *container) exitReason() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.lastExit
}

func containerEnv(pod topology.Pod, spec topology.Container) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOSTNAME=" + pod.Hostname,
		"POD_NAME=" + pod.Name,
		"POD_NAMESPACE=" + pod.Namespace,
		"NODE_NAME=" + pod.Node,
		"SERVICE_ACCOUNT=" + pod.ServiceAccount,
		"INSTANCE_IP=" + pod.IP.String(),
	}
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// watch waits for the process and restarts it with kubelet-like backoff
// (10 s doubling to 5 min is kubelet's; we use 1 s doubling to 30 s so
// simulated crash loops stay observable within a test) unless the pod stops.
func (p *podRuntime) watch(ct *container, cmd *exec.Cmd, exited chan<- struct{}) {
	defer p.c.procs.Done()
	err := cmd.Wait()
	ct.mu.Lock()
	ct.running = false
	ct.ready = false
	ct.lastExit = exitString(cmd, err)
	restarts := ct.restarts
	ct.mu.Unlock()
	close(exited)
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return
	}
	p.c.log.Warn("container exited", "pod", p.pod.Key(), "container", ct.spec.Name, "status", ct.lastExit)
	backoff := min(time.Second<<min(restarts, 5), 30*time.Second)
	select {
	case <-time.After(backoff):
	case <-p.stopped:
		return
	}
	ct.mu.Lock()
	ct.restarts++
	ct.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.c.cfg.ReadyTimeout)
	defer cancel()
	if err := p.startContainer(ctx, ct); err != nil && !errors.Is(err, errPodStopping) {
		p.c.log.Warn("container restart failed", "pod", p.pod.Key(), "container", ct.spec.Name, "err", err)
	}
}

func exitString(cmd *exec.Cmd, err error) string {
	if cmd.ProcessState == nil {
		return fmt.Sprintf("error: %v", err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit code %d", cmd.ProcessState.ExitCode())
}

// stop terminates every container: SIGTERM to the process group, SIGKILL after grace.
func (p *podRuntime) stop(grace time.Duration) {
	p.mu.Lock()
	if !p.stopping {
		p.stopping = true
		close(p.stopped)
	}
	p.mu.Unlock()
	var cmds []*exec.Cmd
	for _, ct := range p.containers {
		ct.mu.Lock()
		if ct.running {
			cmds = append(cmds, ct.cmd)
		}
		ct.mu.Unlock()
	}
	for _, cmd := range cmds {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, ct := range p.containers {
		for ct.isRunning() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, cmd := range cmds {
		// The whole process group, so children of the workload go too.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// ready reports whether every container is running and ready.
func (p *podRuntime) ready() bool {
	for _, ct := range p.containers {
		ct.mu.Lock()
		ok := ct.running && ct.ready
		ct.mu.Unlock()
		if !ok {
			return false
		}
	}
	return len(p.containers) > 0
}

func (ct *container) isRunning() bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.running
}

// ProcessIDs returns the pids of every running container process.
func (c *Cluster) ProcessIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, pr := range c.pods {
		for _, ct := range pr.containers {
			ct.mu.Lock()
			if ct.running {
				pids = append(pids, ct.cmd.Process.Pid)
			}
			ct.mu.Unlock()
		}
	}
	return pids
}
