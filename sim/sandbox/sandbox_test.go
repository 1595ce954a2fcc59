package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

// probeSupervisor prints facts about its environment as key=value lines.
func probeSupervisor([]string) int {
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	var st unix.Statfs_t
	_ = unix.Statfs(sandbox.StateDir(), &st)
	links, _ := netlink.LinkList()
	var names []string
	for _, l := range links {
		up := l.Attrs().Flags&(1) != 0
		names = append(names, fmt.Sprintf("%s:%v", l.Attrs().Name, up))
	}
	fmt.Printf("ppid=%d\n", os.Getppid())
	fmt.Printf("insandbox=%v\n", sandbox.InSandbox())
	fmt.Printf("runid=%s\n", sandbox.CurrentRunID())
	fmt.Printf("netns=%s\n", hostNet)
	fmt.Printf("statetmpfs=%v\n", st.Type == unix.TMPFS_MAGIC)
	fmt.Printf("links=%s\n", strings.Join(names, ","))
	fmt.Printf("uid=%d\n", os.Getuid())
	return 0
}

func exitSupervisor(args []string) int { return 7 }

// termSupervisor exits 0 on SIGTERM, 3 if none arrives within 20s.
func termSupervisor([]string) int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	fmt.Println("WAITING")
	select {
	case <-ch:
		fmt.Println("GOT-TERM")
		return 0
	case <-time.After(20 * time.Second):
		return 3
	}
}

func parseProbe(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestStartIsolatesSupervisor(t *testing.T) {
	requireRoot(t)
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	for _, mode := range []sandbox.UserNSMode{sandbox.UserNSAuto, sandbox.UserNSAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			out, err := runSandbox(t, sandbox.StartOptions{RunID: "probe1", Args: []string{"probe-supervisor"}, UserNS: mode})
			if err != nil {
				t.Fatalf("Wait: %v\n%s", err, out)
			}
			p := parseProbe(out)
			want := map[string]string{"ppid": "1", "insandbox": "true", "runid": "probe1", "statetmpfs": "true", "links": "lo:true", "uid": "0"}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("%s = %q, want %q\n%s", k, p[k], v, out)
				}
			}
			if p["netns"] == "" || p["netns"] == hostNet {
				t.Errorf("supervisor netns %q must differ from the host's %q", p["netns"], hostNet)
			}
		})
	}
}

func TestInSandboxFalseOnHost(t *testing.T) {
	if sandbox.InSandbox() || sandbox.CurrentRunID() != "" {
		t.Fatal("the test process itself must not look sandboxed")
	}
}

func TestExitCodePropagates(t *testing.T) {
	requireRoot(t)
	out, err := runSandbox(t, sandbox.StartOptions{Args: []string{"exit-supervisor"}})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("Wait = %v, want exit status 7\n%s", err, out)
	}
}

func TestSignalIsForwarded(t *testing.T) {
	requireRoot(t)
	r, w, _ := os.Pipe()
	defer r.Close()
	sb, err := sandbox.Start(context.Background(), sandbox.StartOptions{Args: []string{"term-supervisor"}, Stdout: w, Stderr: os.Stderr})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, _ := r.Read(buf); !strings.Contains(string(buf[:n]), "WAITING") {
		sb.Kill()
		sb.Wait()
		t.Fatalf("supervisor did not start: %q", buf[:n])
	}
	if err := sb.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := sb.Wait(); err != nil {
		t.Fatalf("Wait after SIGTERM = %v, want clean exit (signal forwarded to supervisor)", err)
	}
}

func TestCancelStopsSandbox(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	r, w, _ := os.Pipe()
	defer r.Close()
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Args: []string{"term-supervisor"}, Stdout: w, StopGrace: 10 * time.Second})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	r.Read(buf) // "WAITING": the supervisor handles SIGTERM now
	cancel()
	err = sb.Wait()
	// Either the supervisor saw the forwarded SIGTERM (exit 0, reported by
	// exec as the context error) or was killed; it must not run to its 20s timeout.
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Fatalf("supervisor ran to its timeout: cancel did not stop it")
	}
	if err == nil {
		t.Fatal("Wait after cancel returned nil, want the context error")
	}
	// The supervisor must have seen SIGTERM rather than the SIGKILL fallback.
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), "GOT-TERM") {
		t.Errorf("supervisor output after cancel = %q, want GOT-TERM (SIGTERM forwarded)", rest)
	}
}

func TestPodCommand(t *testing.T) {
	requireRoot(t)
	runSub(t, "podexec", sandbox.StartOptions{})
}
