package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"

	"github.com/ambientlab/ambientlab/conformance"
	"github.com/ambientlab/ambientlab/conformance/runner"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

type runOptions struct {
	output         string
	reportDir      string
	dumpDir        string
	noProgress     bool
	workloadBinary string
}

// runEvent is one line of the stream the sandboxed runner writes to its
// parent: progress, then the results.
type runEvent struct {
	Scenario string                  `json:"scenario,omitempty"`
	Index    int                     `json:"index"`
	Total    int                     `json:"total"`
	Started  bool                    `json:"started,omitempty"`
	Step     *runner.StepResult      `json:"step,omitempty"`
	Finished *runner.ScenarioResult  `json:"finished,omitempty"`
	Results  []runner.ScenarioResult `json:"results,omitempty"`
}

func newRunCmd(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run FILE|DIR... [-o table|yaml|json] [--report-dir DIR] [--no-progress]",
		Short: "Run scenarios, each on a fresh simulated cluster, and print their verdicts",
		Long: `Loads and validates every scenario first (any problem: exit 2, nothing is created),
then runs them one after the other inside a sandbox, each on a fresh cluster.
Exit code 1 when any scenario FAILED; SKIPPED and NOT_SUPPORTED are never passes.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, g, o, args) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, yaml or json")
	cmd.Flags().StringVar(&o.reportDir, "report-dir", "", "write the ConformanceReport set, results.json and failure state dumps here")
	cmd.Flags().StringVar(&o.dumpDir, "dump-dir", "", "write failure state dumps here (default: REPORT-DIR/dumps)")
	cmd.Flags().BoolVar(&o.noProgress, "no-progress", false, "no progress output on stderr")
	cmd.Flags().StringVar(&o.workloadBinary, "workload-binary", "", "path of ambientlab-workload (default: next to this binary)")
	return cmd
}

func runRun(cmd *cobra.Command, g *globalOptions, o *runOptions, paths []string) error {
	switch o.output {
	case "table", "yaml", "json":
	default:
		return usageErr("unknown output format %q: want table, yaml or json", o.output)
	}
	list, err := scenarios.LoadPaths(paths...)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	var perrs manifest.ErrorList
	for _, r := range list {
		if err := runner.Preflight(r); err != nil {
			var l manifest.ErrorList
			if errors.As(err, &l) {
				perrs = append(perrs, l...)
			} else {
				perrs = append(perrs, &manifest.Error{File: r.File, Msg: err.Error()})
			}
		}
	}
	if len(perrs) > 0 {
		return &ExitError{Code: ExitUsage, Err: perrs.Sort()}
	}
	if o.workloadBinary == "" {
		o.workloadBinary = defaultWorkloadBinary()
	}
	if _, err := os.Stat(o.workloadBinary); err != nil {
		return &ExitError{Code: ExitEnvironment, Err: fmt.Errorf("workload binary %s: %w (build it with `make build`)", o.workloadBinary, err)}
	}
	args := []string{"__run", "--workload-binary", o.workloadBinary, "--log-level", g.logLevel}
	dumps := o.dumpDir
	if dumps == "" && o.reportDir != "" {
		dumps = filepath.Join(o.reportDir, "dumps")
	}
	if dumps != "" {
		abs, err := filepath.Abs(dumps)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return &ExitError{Code: ExitEnvironment, Err: err}
		}
		args = append(args, "--dump-root", abs)
	}
	if o.reportDir != "" {
		if err := os.MkdirAll(o.reportDir, 0o755); err != nil {
			return &ExitError{Code: ExitEnvironment, Err: err}
		}
	}
	for _, r := range list {
		abs, err := filepath.Abs(r.File)
		if err != nil {
			return err
		}
		args = append(args, abs)
	}
	results, err := runInSandbox(cmd, o, args)
	if err != nil {
		return err
	}
	if o.reportDir != "" {
		if err := writeResults(o.reportDir, list, results); err != nil {
			return &ExitError{Code: ExitEnvironment, Err: err}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "reports written to %s (report.yaml, junit.xml, summary.md, report.html, results.json)\n", o.reportDir)
	}
	if err := printResults(cmd.OutOrStdout(), o.output, results); err != nil {
		return err
	}
	if runner.Summarize(results).Failed > 0 {
		return &ExitError{Code: ExitFailure, Err: errors.New("")}
	}
	return nil
}

// runInSandbox re-executes this binary as `__run` in a fresh sandbox (as
// `up` does with `__supervise`) and follows its event stream on a pipe.
func runInSandbox(cmd *cobra.Command, o *runOptions, args []string) ([]runner.ScenarioResult, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Args: args, Stdout: os.Stderr, Stderr: os.Stderr, ExtraFiles: []*os.File{w}})
	w.Close()
	if err != nil {
		r.Close()
		return nil, &ExitError{Code: ExitEnvironment, Err: fmt.Errorf("start sandbox: %w", err)}
	}
	prog := newProgress(cmd.ErrOrStderr(), o.noProgress)
	var results []runner.ScenarioResult
	got := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var ev runEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // not ours; the runner writes only events here
		}
		if ev.Results != nil || (ev.Total == 0 && !ev.Started && ev.Step == nil && ev.Finished == nil) {
			results, got = ev.Results, true
			continue
		}
		prog.event(ev)
	}
	r.Close()
	prog.done()
	werr := sb.Wait()
	if ctx.Err() != nil {
		return nil, &ExitError{Code: ExitFailure, Err: errors.New("interrupted")}
	}
	if !got {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("scenario runner ended without results: %v", werr)}
	}
	return results, nil
}

// progress renders runner events on stderr: a live status line on a
// terminal, plain lines otherwise, nothing with --no-progress.
type progress struct {
	w        io.Writer
	off, tty bool
	start    time.Time
}

func newProgress(w io.Writer, off bool) *progress {
	p := &progress{w: w, off: off, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil
	}
	return p
}

func (p *progress) event(ev runEvent) {
	if p.off {
		return
	}
	switch {
	case ev.Started && p.tty:
		fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s …", ev.Index+1, ev.Total, ev.Scenario)
	case ev.Step != nil && p.tty:
		fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s: %s %s", ev.Index+1, ev.Total, ev.Scenario, ev.Step.Name, ev.Step.Result)
	case ev.Finished != nil:
		prefix := ""
		if p.tty {
			prefix = "\r\033[K"
		}
		f := ev.Finished
		line := fmt.Sprintf("%s[%d/%d] %-13s %s (%s)", prefix, ev.Index+1, ev.Total, f.Result, f.Name, time.Duration(f.Duration).Round(time.Millisecond))
		if f.Result != runner.Succeeded && f.Reason.Message != "" {
			line += ": " + firstLine(f.Reason.String())
		}
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if !p.off && p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func printResults(w io.Writer, output string, results []runner.ScenarioResult) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	case "yaml":
		b, err := yaml.Marshal(results)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPROFILE\tRESULT\tDURATION\tREASON")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Profile, r.Result, time.Duration(r.Duration).Round(time.Millisecond), firstLine(r.Reason.String()))
	}
	s := runner.Summarize(results)
	fmt.Fprintf(tw, "\n%d scenarios: %d succeeded, %d failed, %d skipped, %d not supported\n",
		len(results), s.Succeeded, s.Failed, s.Skipped, s.NotSupported)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Result == runner.Failed {
			fmt.Fprintf(w, "\n--- FAILED %s (%s)\n%s\n", r.Name, r.File, r.Reason.Message)
			if r.DumpDir != "" {
				fmt.Fprintf(w, "state dump: %s\n", r.DumpDir)
			}
		}
	}
	return nil
}

// writeResults writes the ConformanceReport set (the same files as `make
// conformance`) plus the runner's raw per-step results as results.json.
func writeResults(dir string, list []*scenarios.Resolved, results []runner.ScenarioResult) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	_, err = conformance.WriteReport(dir, list, results, v1.Provenance{
		HarnessVersion: Version,
		Backend:        v1.BackendNetns,
		DataPlane:      "ambientlab-reference",
	})
	return err
}

// newInnerRunCmd is the hidden entry point that runs inside the sandbox.
func newInnerRunCmd(g *globalOptions) *cobra.Command {
	var workload, dumpRoot string
	cmd := &cobra.Command{
		Use:    "__run FILE...",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			events := os.NewFile(3, "events")
			if events == nil {
				return errors.New("__run: no event pipe on fd 3")
			}
			defer events.Close()
			list, err := scenarios.LoadPaths(files...)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(events)
			send := func(ev runEvent) { _ = enc.Encode(ev) }
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			results := runner.RunAll(ctx, list, runner.Options{
				WorkloadBinary: workload,
				StateRoot:      sandbox.StateDir(),
				DumpRoot:       dumpRoot,
				Log:            g.logger(cmd.ErrOrStderr()),
				Progress: func(e runner.Event) {
					ev := runEvent{Scenario: e.Scenario, Index: e.Index, Total: e.Total}
					switch e.Kind {
					case runner.ScenarioStarted:
						ev.Started = true
					case runner.StepFinished:
						ev.Step = e.Step
					case runner.ScenarioFinished:
						ev.Finished = e.Result
					}
					send(ev)
				},
			})
			if results == nil {
				results = []runner.ScenarioResult{}
			}
			send(runEvent{Results: results})
			return nil
		},
	}
	cmd.Flags().StringVar(&workload, "workload-binary", "", "")
	cmd.Flags().StringVar(&dumpRoot, "dump-root", "", "")
	return cmd
}
