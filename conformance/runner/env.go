package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/cluster"
)

// env is one scenario's running cluster plus what steps need to act on it.
type env struct {
	c        *cluster.Cluster
	opts     Options
	timeouts scenarios.Timeouts
	name     string // the scenario's, for evidence paths
}

// execResult is what a command run in a pod produced.
type execResult struct {
	Stdout, Stderr string
	Code           int
}

// maxCapture bounds what one exec may print into memory.
const maxCapture = 1 << 20

// cappedBuffer keeps the first maxCapture bytes and drops the rest, so a
// runaway command cannot exhaust memory.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxCapture - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exec runs argv (argv[0] absolute or looked up on the host PATH) in the
// target pod, bounded by ctx.
func (e *env) exec(ctx context.Context, target string, argv []string) (execResult, error) {
	if len(argv) == 0 {
		return execResult{}, fmt.Errorf("exec: empty command")
	}
	argv = append([]string(nil), argv...)
	if !strings.HasPrefix(argv[0], "/") {
		path, err := exec.LookPath(argv[0])
		if err != nil {
			return execResult{}, fmt.Errorf("exec: %s is not installed on the host: %w", argv[0], err)
		}
		argv[0] = path
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return execResult{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return execResult{}, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return execResult{}, err
	}
	defer devnull.Close()
	var stdout, stderr cappedBuffer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(&stdout, outR); outR.Close() }()
	go func() { defer wg.Done(); io.Copy(&stderr, errR); errR.Close() }()
	code, err := e.c.Exec(ctx, cluster.ExecRequest{Target: target, Argv: argv, Stdio: [3]*os.File{devnull, outW, errW}}, nil)
	outW.Close()
	errW.Close()
	wg.Wait()
	if err != nil {
		return execResult{}, fmt.Errorf("exec in %s: %w", target, err)
	}
	return execResult{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}, nil
}

// expand resolves ${podIP:...}, ${podName:...} and ${clusterIP:...} against
// the running cluster's model.
func (e *env) expand(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	m := e.c.Model()
	return scenarios.Expand(s, func(fn, arg string) (string, error) {
		switch fn {
		case scenarios.PlaceholderPodIP, scenarios.PlaceholderPodName:
			p, err := cluster.ResolveTarget(m, arg)
			if err != nil {
				return "", err
			}
			if fn == scenarios.PlaceholderPodName {
				return p.Name, nil
			}
			return p.IP.String(), nil
		case scenarios.PlaceholderClusterIP:
			for _, s := range m.Services {
				if s.Key() == arg && !s.Headless {
					return s.ClusterIP.String(), nil
				}
			}
			return "", fmt.Errorf("service %s has no ClusterIP", arg)
		}
		return "", fmt.Errorf("unknown placeholder %q", fn)
	})
}

func (e *env) expandAll(in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, s := range in {
		v, err := e.expand(s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// podIP returns the IP of the pod a target names.
func (e *env) podIP(target string) (string, error) {
	p, err := cluster.ResolveTarget(e.c.Model(), target)
	if err != nil {
		return "", err
	}
	return p.IP.String(), nil
}
