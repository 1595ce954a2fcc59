package runner

import (
	"os"
	"testing"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

// TestMain runs the tests inside a fresh sandbox (PID, network and mount
// namespaces): every scenario cluster they bring up dies with it.
func TestMain(m *testing.M) {
	if sandbox.Main() {
		return
	}
	os.Exit(sandbox.RunTestsInSandbox(m))
}
