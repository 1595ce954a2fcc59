// Command ambientlab is the CLI: simulated ambient-mesh clusters, scenarios,
// conformance and performance runs.
package main

import (
	"os"

	"github.com/ambientlab/ambientlab/internal/cli"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func main() {
	// The sandbox re-executes this binary for its helper modes (PID 1 of the
	// sandbox, exec inside a pod); those never return.
	if sandbox.Main() {
		return
	}
	os.Exit(cli.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
