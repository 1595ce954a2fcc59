package nodeagent

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	code := sandbox.RunTestsInSandbox(m)
	if code == 0 && sandbox.InSandbox() {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
