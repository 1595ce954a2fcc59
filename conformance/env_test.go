package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/cluster"
)

// env is a running simulated cluster plus the helpers specs use to observe it.
type env struct {
	c *cluster.Cluster
}

func startEnv(ctx context.Context, nodes int, files ...string) (*env, error) {
	bins, err := testutil.BinDir()
	if err != nil {
		return nil, err
	}
	set, err := manifest.LoadFiles(files...)
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "ambientlab-conformance-")
	if err != nil {
		return nil, err
	}
	cfg := cluster.DefaultConfig()
	cfg.Name, cfg.Nodes, cfg.StateDir = "conformance", nodes, state
	cfg.WorkloadBinary = filepath.Join(bins, "ambientlab-workload")
	c, err := cluster.Up(ctx, cfg, set)
	if err != nil {
		os.RemoveAll(state)
		return nil, err
	}
	return &env{c: c}, nil
}

func (e *env) close() {
	e.c.Close()
	os.RemoveAll(e.c.Config().StateDir)
}

// execResult is what a command run in a pod produced.
type execResult struct {
	Stdout, Stderr string
	Code           int
}

// exec runs a host binary in the target pod with a bounded time.
func (e *env) exec(target string, argv ...string) (execResult, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return execResult{}, err
	}
	argv[0] = path
	outR, outW, err := os.Pipe()
	if err != nil {
		return execResult{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return execResult{}, err
	}
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	var stdout, stderr bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { stdout.ReadFrom(outR); outR.Close(); done <- struct{}{} }()
	go func() { stderr.ReadFrom(errR); errR.Close(); done <- struct{}{} }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := e.c.Exec(ctx, cluster.ExecRequest{Target: target, Argv: argv, Stdio: [3]*os.File{devnull, outW, errW}}, nil)
	outW.Close()
	errW.Close()
	<-done
	<-done
	if err != nil {
		return execResult{}, fmt.Errorf("exec %v in %s: %w", argv, target, err)
	}
	return execResult{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}, nil
}
