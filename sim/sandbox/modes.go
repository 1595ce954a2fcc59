package sandbox

import (
	"fmt"
	"os"
	"strings"
)

// helperMode is a hidden first argument that turns the binary into one of
// the sandbox's helper processes.
type helperMode string

const (
	modeInit    helperMode = "__sandbox-init"
	modePodExec helperMode = "__podexec"
)

func (m helperMode) String() string { return string(m) }

// Main runs a sandbox helper mode if os.Args[1] names one; it then never
// returns. Otherwise it returns false. Call it first in main() of every binary
// that uses Start or PodCommand, and first in TestMain of tests that do.
func Main() bool {
	if len(os.Args) < 2 {
		return false
	}
	var code int
	switch helperMode(os.Args[1]) {
	case modeInit:
		code = runInit(os.Args[2:])
	case modePodExec:
		code = runPodExec(os.Args[2:])
	default:
		return false
	}
	os.Exit(code)
	return true // unreachable
}

// helperFail reports a helper-mode failure on stderr; helpers have no logger
// because they run before (or instead of) the program's own setup.
func helperFail(mode helperMode, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "ambientlab %s: %s\n", mode, fmt.Sprintf(format, args...))
	return 127
}

// initCmdline reads PID 1's argv. Inside a sandbox that is our init, whose
// argv is [exe, __sandbox-init, runID, ...].
func initCmdline() []string {
	b, err := os.ReadFile("/proc/1/cmdline")
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// InSandbox reports whether this process runs inside a sandbox (PID 1 of its
// PID namespace is the sandbox init).
func InSandbox() bool {
	args := initCmdline()
	return len(args) >= 3 && args[1] == string(modeInit)
}

// CurrentRunID returns the run ID of the sandbox this process runs in, or ""
// outside a sandbox.
func CurrentRunID() string {
	if !InSandbox() {
		return ""
	}
	return initCmdline()[2]
}
