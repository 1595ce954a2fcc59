package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
)

// RunTestsInSandbox runs a test binary's tests inside a sandbox. Outside one,
// it re-executes the test binary (same arguments) in a fresh sandbox and
// returns its exit code; inside, it runs m.Run(). If no sandbox can be made
// (not root, no user namespaces) it runs the tests unsandboxed, where Require
// skips the tests that need one. Use from TestMain after Main:
//
//	func TestMain(m *testing.M) {
//		sandbox.Main()
//		os.Exit(sandbox.RunTestsInSandbox(m))
//	}
func RunTestsInSandbox(m *testing.M) int {
	if InSandbox() {
		return m.Run()
	}
	if err := CanStart(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: running tests without a sandbox: %v\n", err)
		return m.Run()
	}
	sb, err := Start(context.Background(), StartOptions{
		Args:   os.Args[1:],
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	if errors.Is(err, ErrUserNSUnavailable) {
		// Policy (e.g. an AppArmor userns restriction) refused the clone
		// itself; run unsandboxed so Require skips with the reason.
		fmt.Fprintf(os.Stderr, "sandbox: running tests without a sandbox: %v\n", err)
		return m.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	for {
		select {
		case s := <-sigs:
			_ = sb.Signal(s)
		case <-sb.Done():
			return exitCode(sb.Wait())
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		return 1
	}
}

// Require skips t unless it runs inside a sandbox, naming why.
func Require(t testing.TB) {
	t.Helper()
	if !InSandbox() {
		t.Skipf("needs the sandbox (root or unprivileged user namespaces): %v", CanStart())
	}
}
