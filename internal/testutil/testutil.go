// Package testutil holds helpers shared by the project's tests: locating or
// building the binaries end-to-end tests run, and root checks.
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RepoRoot returns the repository root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// BinDir returns a directory holding ambientlab and ambientlab-workload:
// $AMBIENTLAB_BIN_DIR when set (the Makefile builds there), else a fresh build
// into a temporary directory, once per test binary.
func BinDir() (string, error) {
	buildOnce.Do(func() {
		if d := os.Getenv("AMBIENTLAB_BIN_DIR"); d != "" {
			binDir = d
			for _, b := range []string{"ambientlab", "ambientlab-workload"} {
				if _, err := os.Stat(filepath.Join(d, b)); err != nil {
					buildErr = fmt.Errorf("AMBIENTLAB_BIN_DIR=%s: %w (run `make build`)", d, err)
				}
			}
			return
		}
		dir, err := os.MkdirTemp("", "ambientlab-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		for _, pkg := range []string{"ambientlab", "ambientlab-workload"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "./cmd/"+pkg)
			cmd.Dir = RepoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	return binDir, buildErr
}

// MustBinDir is BinDir for tests.
func MustBinDir(tb testing.TB) string {
	tb.Helper()
	d, err := BinDir()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// RequireRoot skips a test that needs root (namespaces, nftables).
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for network namespaces (run as root or in CI)")
	}
}
