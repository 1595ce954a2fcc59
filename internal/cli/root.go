// Package cli implements the `ambientlab` command line: cobra commands with
// kubectl-like habits on top of sim/cluster (inside the sandbox) and
// sim/control (from any terminal).
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/sim/control"
)

// Exit codes (conventions.md §8).
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitEnvironment = 3 // the environment cannot run this backend
)

// ExitError carries an exit code through cobra.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

type globalOptions struct {
	cluster  string
	logLevel string
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "ambientlab",
		Short:         "Simulate Istio ambient mesh clusters on one Linux machine and test them",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `ambientlab brings up simulated Kubernetes clusters as network namespaces with real
processes, and (as it grows) a reference ambient data plane, conformance scenarios and
performance benchmarks.

  ambientlab up -f scenarios/examples/httpbin.yaml --nodes 2
  ambientlab get pods -A
  ambientlab exec demo/deploy/client -- curl -s http://httpbin.demo:8000/headers`,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.cluster, "cluster", "", "cluster name (default: the only running cluster, else \"ambientlab\")")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug|info|warn|error")
	root.AddCommand(
		newUpCmd(g), newDownCmd(g), newApplyCmd(g, false), newApplyCmd(g, true),
		newGetCmd(g), newExecCmd(g), newLogsCmd(g), newReapCmd(g), newStatusCmd(g),
		newSuperviseCmd(g), newVersionCmd(), newRunCmd(g), newInnerRunCmd(g),
		newControlPlaneCmd(g), newZtunnelCmd(g), newWaypointCmd(g),
	)
	return root
}

// Execute runs the CLI and returns the process exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil && ee.Err.Error() != "" {
			fmt.Fprintln(stderr, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "error:", err)
	return ExitFailure
}

func (g *globalOptions) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// clusterName picks the cluster a command talks to.
func (g *globalOptions) clusterName() string {
	if g.cluster != "" {
		return g.cluster
	}
	if names := control.ListClusters(); len(names) == 1 {
		return names[0]
	}
	return "ambientlab"
}

func (g *globalOptions) client() *control.Client { return control.NewClient(g.clusterName()) }

func usageErr(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ambientlab version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "ambientlab", Version)
		},
	}
}

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

func stdoutFile(w io.Writer) *os.File {
	if f, ok := w.(*os.File); ok {
		return f
	}
	return os.Stdout
}
