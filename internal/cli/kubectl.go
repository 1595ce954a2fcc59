package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/sim/control"
)

func newApplyCmd(g *globalOptions, del bool) *cobra.Command {
	var files []string
	use, short := "apply -f FILE...", "Create or update objects in the running cluster"
	if del {
		use, short = "delete -f FILE...", "Delete the objects named in the files from the running cluster"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usageErr("-f is required")
			}
			payload, err := readManifestFiles(files)
			if err != nil {
				return usageErr("%v", err)
			}
			c := g.client()
			// Delete must not apply the files first: that would create (or
			// overwrite) the objects for a moment before deleting them.
			send := c.Apply
			if del {
				send = c.Delete
			}
			resp, err := send(payload)
			if resp != nil {
				for _, w := range resp.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "Warning:", w)
				}
			}
			if err != nil {
				return err
			}
			if resp.Message != "" {
				fmt.Fprintln(cmd.OutOrStdout(), resp.Message)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file or directory (repeatable)")
	return cmd
}

// readManifestFiles reads files and directories (*.yaml, *.yml) as the user named them.
func readManifestFiles(paths []string) ([]control.File, error) {
	var out []control.File
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, control.File{Name: p, Data: b})
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				continue
			}
			fp := filepath.Join(p, e.Name())
			b, err := os.ReadFile(fp)
			if err != nil {
				return nil, err
			}
			out = append(out, control.File{Name: fp, Data: b})
		}
	}
	return out, nil
}

func newGetCmd(g *globalOptions) *cobra.Command {
	var namespace, output string
	var all bool
	cmd := &cobra.Command{
		Use:   "get nodes|pods|svc [-n NS|-A] [-o table|wide|yaml|json]",
		Short: "List nodes, pods or services",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := normalizeKind(args[0])
			if kind == "" {
				return usageErr("unknown resource type %q: want nodes, pods or svc", args[0])
			}
			if namespace == "" && !all {
				namespace = "default"
			}
			if all {
				namespace = ""
			}
			data, err := g.client().Get(kind)
			if err != nil {
				return err
			}
			return renderList(cmd.OutOrStdout(), kind, data, namespace, output)
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "all namespaces")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table|wide|yaml|json")
	return cmd
}

func normalizeKind(k string) string {
	switch k {
	case "nodes", "node", "no":
		return "nodes"
	case "pods", "pod", "po":
		return "pods"
	case "services", "service", "svc":
		return "svc"
	}
	return ""
}

func newExecCmd(g *globalOptions) *cobra.Command {
	var stdin bool
	var namespace string
	cmd := &cobra.Command{
		Use:   "exec NS/POD|NS/deploy/NAME -- COMMAND [ARG...]",
		Short: "Run a host binary inside a pod's network namespace, with stdio and exit code passed through",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return usageErr("usage: ambientlab exec NS/POD -- COMMAND [ARG...]")
			}
			target := args[0]
			if !strings.Contains(target, "/") || strings.HasPrefix(target, "deploy/") || strings.HasPrefix(target, "deployment/") {
				ns := namespace
				if ns == "" {
					ns = "default"
				}
				target = ns + "/" + target
			}
			argv := append([]string(nil), args[1:]...)
			path, err := exec.LookPath(argv[0])
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: not found on this machine's PATH (exec runs host binaries inside the pod)", argv[0])}
			}
			if argv[0], err = filepath.Abs(path); err != nil {
				return err
			}
			dir, _ := os.Getwd()
			env := []string{}
			for _, k := range []string{"TERM", "HOME", "LANG"} {
				if v, ok := os.LookupEnv(k); ok {
					env = append(env, k+"="+v)
				}
			}
			if p, ok := os.LookupEnv("PATH"); ok {
				env = append(env, "PATH="+p)
			}
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
			defer signal.Stop(sigs)
			code, err := g.client().Exec(control.Request{Target: target, Argv: argv, Env: env, Dir: dir, Stdin: stdin},
				os.Stdin, stdoutFile(cmd.OutOrStdout()), os.Stderr, sigs)
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code, Err: fmt.Errorf("")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&stdin, "stdin", "i", false, "pass stdin to the command")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace for a target without one")
	return cmd
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	var follow bool
	var tail int
	var container, namespace string
	cmd := &cobra.Command{
		Use:   "logs NS/POD|NS/deploy/NAME",
		Short: "Print a pod's container log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := args[0]
			if !strings.Contains(target, "/") {
				ns := namespace
				if ns == "" {
					ns = "default"
				}
				target = ns + "/" + target
			}
			return g.client().Logs(control.Request{Target: target, Container: container, Follow: follow, Tail: tail}, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream new lines")
	cmd.Flags().IntVar(&tail, "tail", 0, "only the last N lines")
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace for a target without one")
	return cmd
}

func newDownCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop a running cluster (its `up` process exits)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.client().Down(); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "cluster", g.clusterName(), "is shutting down")
			return nil
		},
	}
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show running clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := control.ListClusters()
			if g.cluster != "" {
				names = []string{g.cluster}
			}
			sort.Strings(names)
			out := cmd.OutOrStdout()
			if len(names) == 0 {
				fmt.Fprintln(out, "no clusters")
				return nil
			}
			for _, n := range names {
				st, err := control.NewClient(n).Status()
				if err != nil {
					fmt.Fprintf(out, "%s\tstale (%v); `ambientlab reap` removes it\n", n, err)
					continue
				}
				b, _ := json.Marshal(st)
				fmt.Fprintf(out, "%s\trunning\t%s\n", n, b)
			}
			return nil
		},
	}
}
