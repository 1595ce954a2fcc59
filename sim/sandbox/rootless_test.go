package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func init() { helpers["probe-outer"] = probeOuter }

// probeOuter starts a sandbox running probeSupervisor with default options
// (so: a user namespace when not root) and relays its output.
func probeOuter([]string) int {
	sb, err := sandbox.Start(context.Background(), sandbox.StartOptions{Args: []string{"probe-supervisor"}, Stdout: os.Stdout, Stderr: os.Stderr})
	if errors.Is(err, sandbox.ErrUserNSUnavailable) {
		fmt.Println("USERNS-UNAVAILABLE", err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := sb.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestRootlessSandbox runs, as root, a copy of this test binary as an
// unprivileged user and checks that it gets a working sandbox through a
// user namespace.
func TestRootlessSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user; as non-root the other tests already run rootless")
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir makes both levels 0700
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "sandbox.test")
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	cmd := exec.Command(exe, "probe-outer")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "USERNS-UNAVAILABLE") {
		t.Skipf("kernel forbids unprivileged user namespaces here: %s", out)
	}
	if err != nil {
		t.Fatalf("rootless probe: %v\n%s", err, out)
	}
	p := parseProbe(string(out))
	for k, v := range map[string]string{"ppid": "1", "insandbox": "true", "uid": "0", "links": "lo:true", "statetmpfs": "true"} {
		if p[k] != v {
			t.Errorf("rootless %s = %q, want %q\n%s", k, p[k], v, out)
		}
	}
}
