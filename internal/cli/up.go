package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/control"
	"github.com/ambientlab/ambientlab/sim/sandbox"
	"github.com/ambientlab/ambientlab/sim/topology"
	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

type upOptions struct {
	files          []string
	nodes          int
	name           string
	workloadBinary string
	readyTimeout   time.Duration
}

func newUpCmd(g *globalOptions) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up -f FILE... [--nodes N]",
		Short: "Bring up a simulated cluster and keep it running until Ctrl-C or `ambientlab down`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.name == "" {
				o.name = g.cluster
			}
			if o.name == "" {
				o.name = "ambientlab"
			}
			return runUp(cmd, g, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "manifest file or directory (repeatable)")
	cmd.Flags().IntVar(&o.nodes, "nodes", 2, "number of nodes")
	cmd.Flags().StringVar(&o.name, "name", "", "cluster name (default \"ambientlab\")")
	cmd.Flags().StringVar(&o.workloadBinary, "workload-binary", "", "path of ambientlab-workload (default: next to this binary)")
	cmd.Flags().DurationVar(&o.readyTimeout, "timeout", 5*time.Minute, "how long to wait for the cluster to become ready")
	return cmd
}

// defaultWorkloadBinary finds ambientlab-workload next to this executable.
func defaultWorkloadBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return "ambientlab-workload"
	}
	return filepath.Join(filepath.Dir(exe), "ambientlab-workload")
}

func runUp(cmd *cobra.Command, g *globalOptions, o *upOptions) error {
	stderr := cmd.ErrOrStderr()
	if err := control.ValidateClusterName(o.name); err != nil {
		return usageErr("%v", err)
	}
	if o.workloadBinary == "" {
		o.workloadBinary = defaultWorkloadBinary()
	}
	if _, err := os.Stat(o.workloadBinary); err != nil {
		return &ExitError{Code: ExitEnvironment, Err: fmt.Errorf("workload binary %s: %w (build it with `make build`)", o.workloadBinary, err)}
	}
	// Validate everything before creating anything: a typo must leave no trace.
	set := &manifest.Set{}
	if len(o.files) > 0 {
		var err error
		set, err = manifest.LoadFiles(o.files...)
		if err != nil {
			return &ExitError{Code: ExitUsage, Err: err}
		}
	}
	if _, err := topology.Resolve(set, topology.ResolveOptions{ClusterName: o.name, Nodes: o.nodes, Plan: topology.DefaultAddressPlan(), ClusterDomain: "cluster.local", TrustDomain: "cluster.local"}, nil); err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	if _, err := control.NewClient(o.name).Status(); err == nil {
		return usageErr("cluster %q is already running (ambientlab down --cluster %s)", o.name, o.name)
	}

	r, w, err := ready.Pipe()
	if err != nil {
		return err
	}
	args := []string{"__supervise", "--name", o.name, "--nodes", strconv.Itoa(o.nodes),
		"--workload-binary", o.workloadBinary, "--log-level", g.logLevel}
	for _, f := range o.files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		args = append(args, "-f", abs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	// The sandbox's lifetime is managed below (SIGTERM, then SIGKILL after a
	// grace period), so it does not take the signal context.
	sb, err := sandbox.Start(context.Background(), sandbox.StartOptions{
		Args:       args,
		Env:        append(os.Environ(), ready.Env(0)),
		Stdout:     os.Stderr, // supervisor logs go to our stderr; stdout stays for the summary
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{w},
	})
	w.Close()
	if err != nil {
		r.Close()
		return &ExitError{Code: ExitEnvironment, Err: fmt.Errorf("start sandbox: %w", err)}
	}
	exited := make(chan error, 1)
	go func() { exited <- sb.Wait() }()
	rctx, cancel := context.WithTimeout(ctx, o.readyTimeout)
	err = ready.Wait(rctx, r)
	cancel()
	r.Close()
	if err != nil {
		sb.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			sb.Signal(syscall.SIGKILL)
			<-exited
		}
		if ctx.Err() != nil {
			return &ExitError{Code: ExitFailure, Err: errors.New("interrupted before the cluster was ready")}
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("cluster did not become ready: %w", err)}
	}
	printUsage(cmd, o, time.Since(start), sb.DebugHint())

	select {
	case err := <-exited:
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("cluster supervisor: %w", err)}
		}
		fmt.Fprintln(cmd.OutOrStdout(), "cluster", o.name, "is down")
		return nil
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "\nshutting down cluster", o.name, "...")
	sb.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(stderr, "cluster did not stop within 30s; killing it")
		sb.Signal(syscall.SIGKILL)
		<-exited
	}
	fmt.Fprintln(cmd.OutOrStdout(), "cluster", o.name, "is down")
	return nil
}

func printUsage(cmd *cobra.Command, o *upOptions, took time.Duration, debugHint string) {
	out := cmd.OutOrStdout()
	flag := ""
	if o.name != "ambientlab" {
		flag = " --cluster " + o.name
	}
	fmt.Fprintf(out, `cluster %q is up (%d nodes, ready in %s).

In another terminal:
  ambientlab%s get pods -A
  ambientlab%s get svc -A
  ambientlab%s exec NAMESPACE/deploy/NAME -- curl -s http://SERVICE.NAMESPACE:PORT/headers
  ambientlab%s logs NAMESPACE/POD
  ambientlab%s apply -f more.yaml
  ambientlab%s down

Debug shell inside the sandbox: %s
Press Ctrl-C to stop the cluster.
`, o.name, o.nodes, took.Round(time.Millisecond), flag, flag, flag, flag, flag, flag, debugHint)
}

// newSuperviseCmd is the hidden entry point that runs inside the sandbox.
func newSuperviseCmd(g *globalOptions) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:    "__supervise",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSupervise(cmd, g, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "")
	cmd.Flags().IntVar(&o.nodes, "nodes", 2, "")
	cmd.Flags().StringVar(&o.name, "name", "ambientlab", "")
	cmd.Flags().StringVar(&o.workloadBinary, "workload-binary", "", "")
	return cmd
}

func runSupervise(cmd *cobra.Command, g *globalOptions, o *upOptions) error {
	log := g.logger(cmd.ErrOrStderr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	set := &manifest.Set{}
	if len(o.files) > 0 {
		var err error
		if set, err = manifest.LoadFiles(o.files...); err != nil {
			return err
		}
	}
	cfg := cluster.DefaultConfig()
	cfg.Name, cfg.Nodes, cfg.WorkloadBinary, cfg.StateDir, cfg.Log = o.name, o.nodes, o.workloadBinary, sandbox.StateDir(), log
	c, err := cluster.Up(ctx, cfg, set)
	if err != nil {
		return err
	}
	defer c.Close()
	m := c.Model()
	log.Info("cluster ready", "name", cfg.Name, "nodes", len(m.Nodes), "pods", len(m.Pods), "services", len(m.Services))
	errc := make(chan error, 1)
	go func() { errc <- cluster.Serve(ctx, c, control.SocketPath(cfg.Name), "") }()
	// Give the listener a moment to exist before announcing readiness.
	for i := 0; i < 100; i++ {
		if _, err := control.NewClient(cfg.Name).Status(); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := ready.Signal(); err != nil {
		log.Warn("readiness signal", "err", err)
	}
	return <-errc
}
