package conformance

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

// TestMain runs the suite inside a fresh sandbox (PID, network and mount
// namespaces), so nothing it creates can outlive it.
func TestMain(m *testing.M) {
	if sandbox.Main() {
		return
	}
	os.Exit(sandbox.RunTestsInSandbox(m))
}

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ambientlab conformance")
}
