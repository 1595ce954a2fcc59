package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

// Helper modes of this test binary. Tests here run on the host (they test the
// sandbox from outside) and start these modes as supervisors or outer processes.
var helpers = map[string]func(args []string) int{
	"probe-supervisor": probeSupervisor,
	"exit-supervisor":  exitSupervisor,
	"term-supervisor":  termSupervisor,
	"sub-supervisor":   subSupervisor,
	"leak-outer":       leakOuter,
	"leak-supervisor":  leakSupervisor,
}

func TestMain(m *testing.M) {
	sandbox.Main()
	if len(os.Args) > 1 {
		if h, ok := helpers[os.Args[1]]; ok {
			os.Exit(h(os.Args[2:]))
		}
	}
	goleak.VerifyTestMain(m)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if err := sandbox.CanStart(); err != nil {
		t.Skipf("cannot create a sandbox here: %v", err)
	}
}

// runSandbox starts a sandbox whose supervisor is args and returns its
// combined output and Wait error.
func runSandbox(t *testing.T, opts sandbox.StartOptions) (string, error) {
	t.Helper()
	var out bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &out
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	err = sb.Wait()
	return out.String(), err
}

// subtests are functions run inside a sandbox by sub-supervisor NAME; they
// print diagnostics and return an error on failure.
var subtests = map[string]func() error{}

func subSupervisor(args []string) int {
	if len(args) != 1 || subtests[args[0]] == nil {
		fmt.Fprintf(os.Stderr, "unknown subtest %v\n", args)
		return 2
	}
	if err := subtests[args[0]](); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	fmt.Println("SUBTEST-OK")
	return 0
}

// runSub runs a registered subtest inside a fresh sandbox and fails t with its output.
func runSub(t *testing.T, name string, opts sandbox.StartOptions) {
	t.Helper()
	opts.Args = []string{"sub-supervisor", name}
	out, err := runSandbox(t, opts)
	if err != nil || !strings.Contains(out, "SUBTEST-OK") {
		t.Fatalf("subtest %s in sandbox: %v\n%s", name, err, out)
	}
	t.Logf("%s", out)
}
