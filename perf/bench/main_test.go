package bench

import (
	"os"
	"testing"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

// TestMain runs the package inside the sandbox: the benchmarks build a
// cluster of network namespaces that must die with the run. sandbox.Main
// serves the helper modes (pod exec) this binary is re-executed in, and
// relayMode the ceiling relay the benchmark execs in pods (relay_exec_test.go).
func TestMain(m *testing.M) {
	if sandbox.Main() {
		return
	}
	if code, ok := relayMode(); ok {
		os.Exit(code)
	}
	if code, ok := httpClientMode(); ok {
		os.Exit(code)
	}
	os.Exit(sandbox.RunTestsInSandbox(m))
}
