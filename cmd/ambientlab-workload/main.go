// Command ambientlab-workload runs the simulator's built-in workloads inside a
// pod's network namespace: echo (httpbin + Istio-style echo + TCP echo), idle,
// and the cluster DNS server. It is a separate, small binary because one copy
// runs per simulated pod; it must not import Kubernetes, Istio or cobra.
//
// Every subcommand signals readiness through package ready (AMBIENTLAB_READY_FD)
// once it can serve, and exits 0 on SIGTERM or SIGINT after a graceful stop.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// errUsage marks a command-line error (exit code 2, as flag does).
var errUsage = errors.New("usage error")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: ambientlab-workload <command> [flags]

commands:
  echo   HTTP/1.1 + h2c httpbin and echo on --http ports, raw TCP echo on --tcp ports
  idle   wait for SIGTERM/SIGINT
  dns    cluster DNS for a zone file (UDP and TCP); SIGHUP reloads the zone
  probe  one HTTP request or TCP exchange, printed as a JSON result (run in a pod by scenarios)
  load   N HTTP requests with a response distribution as JSON (the scenario load step)
  loadgen  benchmark client: rtt latency or bulk throughput against a TCP echo, as JSON (run in a pod by perf/bench)

Run "ambientlab-workload <command> -h" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "echo":
		err = runEcho(args[1:], stdout, stderr)
	case "idle":
		err = runIdle(args[1:], stderr)
	case "dns":
		err = runDNS(args[1:], stdout, stderr)
	case "probe":
		err = runProbe(args[1:], stdout, stderr)
	case "loadgen":
		err = runLoadgen(args[1:], stdout, stderr)
	case "load":
		err = runLoad(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ambientlab-workload: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "ambientlab-workload %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "ambientlab-workload %s: %v\n", args[0], err)
		return 1
	}
}

// runtimeFlags are shared by every command: the defaults keep one process per
// pod small (one P, a tighter GC target).
type runtimeFlags struct {
	maxProcs  int
	gcPercent int
}

func (r *runtimeFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&r.maxProcs, "gomaxprocs", 1, "GOMAXPROCS for this process")
	fs.IntVar(&r.gcPercent, "gc-percent", 50, "GC target percentage (ignored when GOGC is set in the environment)")
}

func (r *runtimeFlags) apply() {
	if r.maxProcs > 0 {
		runtime.GOMAXPROCS(r.maxProcs)
	}
	if os.Getenv("GOGC") == "" && r.gcPercent != 0 {
		debug.SetGCPercent(r.gcPercent)
	}
}

// parseFlags parses args into fs, mapping flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

// parsePorts parses "80,8080" (empty means none).
func parsePorts(s string) ([]uint16, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("%w: invalid port %q", errUsage, f)
		}
		out = append(out, uint16(p))
	}
	return out, nil
}
