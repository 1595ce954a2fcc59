package sandbox_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func init() { subtests["reap"] = reapSubtest }

func TestReapInSandbox(t *testing.T) {
	requireRoot(t)
	runSub(t, "reap", sandbox.StartOptions{})
}

// reapSubtest plants, inside a sandbox, one of everything Reap should remove
// and one of everything it must keep, then checks a dry run, a real run and
// an idempotent second run.
func reapSubtest() error {
	const run = "rt"
	base := sandbox.StateDir()
	root, nsDir := filepath.Join(base, "root"), filepath.Join(base, "netns")
	for _, d := range []string{root, nsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var want []string
	plant := func(kind sandbox.ObjectKind, name string) { want = append(want, kind.String()+" "+name) }

	// Sockets: one stale, one live.
	stale := filepath.Join(root, run+"-stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		return err
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	plant(sandbox.KindSocket, stale)
	live, err := net.Listen("unix", filepath.Join(root, run+"-live.sock"))
	if err != nil {
		return err
	}
	defer live.Close()

	// Lock files: one unheld, one held. Pid files: one dead, one alive.
	unheld := filepath.Join(root, run+"-a.lock")
	os.WriteFile(unheld, nil, 0o644)
	plant(sandbox.KindStateFile, unheld)
	held := filepath.Join(root, run+"-b.lock")
	os.WriteFile(held, nil, 0o644)
	hf, _ := os.Open(held)
	defer hf.Close()
	if err := unix.Flock(int(hf.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	deadCmd := exec.Command("true")
	if err := deadCmd.Run(); err != nil {
		return err
	}
	dead := filepath.Join(root, run+"-dead.pid")
	os.WriteFile(dead, []byte(strconv.Itoa(deadCmd.Process.Pid)), 0o644)
	plant(sandbox.KindStateFile, dead)
	os.WriteFile(filepath.Join(root, run+"-self.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	os.WriteFile(filepath.Join(root, "other-run.lock"), nil, 0o644) // another run's: RunID filter keeps it

	// A named netns (bind mount of an anonymous one).
	ns, err := netns.New(nil)
	if err != nil {
		return err
	}
	named := filepath.Join(nsDir, sandbox.NamePrefix+run+"-x")
	os.WriteFile(named, nil, 0o644)
	if err := unix.Mount(ns.Path(), named, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind netns: %w", err)
	}
	ns.Close()
	plant(sandbox.KindNamedNetns, named)

	// Links: by name, by altname, and one to keep.
	for _, name := range []string{sandbox.NamePrefix + run + "0", "keep0", "alt0"} {
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return fmt.Errorf("add bridge %s: %w", name, err)
		}
	}
	plant(sandbox.KindLink, sandbox.NamePrefix+run+"0")
	alt, _ := netlink.LinkByName("alt0")
	if err := netlink.LinkAddAltName(alt, sandbox.NamePrefix+run+"-alt"); err != nil {
		return fmt.Errorf("add altname: %w", err)
	}
	plant(sandbox.KindLink, "alt0")

	// nft tables: ours and another.
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	conn.AddTable(&nftables.Table{Name: sandbox.NamePrefix + run, Family: nftables.TableFamilyIPv4})
	conn.AddTable(&nftables.Table{Name: "keep", Family: nftables.TableFamilyIPv4})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("add nft tables: %w", err)
	}
	plant(sandbox.KindNftTable, sandbox.NamePrefix+run)

	// An orphaned helper: argv[1] is the init mode, its parent is not its executable.
	script := filepath.Join(base, "__sandbox-init")
	os.WriteFile(script, []byte("sleep 100\n"), 0o755)
	orphan := exec.Command("/bin/sh", "-c", "sh __sandbox-init "+run+" >/dev/null 2>&1 & echo $!")
	orphan.Dir = base
	out, err := orphan.Output()
	if err != nil {
		return fmt.Errorf("start orphan: %w", err)
	}
	orphanPid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	// Wait (bounded) until the child has exec'd, so /proc shows its argv.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", orphanPid))
		if strings.Contains(string(b), "__sandbox-init") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("orphan %d never showed its argv", orphanPid)
		}
	}
	plant(sandbox.KindProcess, fmt.Sprintf("%d sh __sandbox-init %s", orphanPid, run))

	opts := sandbox.ReapOptions{StateRoot: root, NetnsDir: nsDir, RunID: run}
	slices.Sort(want)
	check := func(label string, rep sandbox.ReapReport, want []string) error {
		var got []string
		for _, r := range rep.Removed {
			got = append(got, r.String())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s reaped:\n  %s\nwant:\n  %s", label, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		return nil
	}
	dry := opts
	dry.DryRun = true
	for _, step := range []struct {
		label string
		opts  sandbox.ReapOptions
		want  []string
	}{
		{"dry run", dry, want},
		{"second dry run (nothing removed)", dry, want},
		{"reap", opts, want},
		{"second reap (idempotent)", opts, nil},
	} {
		rep, err := sandbox.Reap(step.opts)
		if err != nil {
			return fmt.Errorf("%s: %w", step.label, err)
		}
		if err := check(step.label, rep, step.want); err != nil {
			return err
		}
	}
	// What must survive did.
	for _, p := range []string{filepath.Join(root, run+"-live.sock"), held, filepath.Join(root, run+"-self.pid"), filepath.Join(root, "other-run.lock")} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("reap removed %s, which is live or not this run's", p)
		}
	}
	if _, err := netlink.LinkByName("keep0"); err != nil {
		return errors.New("reap removed link keep0")
	}
	if err := syscall.Kill(orphanPid, 0); err == nil {
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphanPid)); !strings.Contains(string(st), ") Z ") {
			return fmt.Errorf("orphan %d still alive after reap", orphanPid)
		}
	}
	return nil
}

// TestReapHostDryRun runs every host probe (netlink, nftables, /proc, the
// state root) read-only on the real host; it must not fail.
func TestReapHostDryRun(t *testing.T) {
	requireRoot(t)
	rep, err := sandbox.Reap(sandbox.ReapOptions{StateRoot: t.TempDir(), NetnsDir: t.TempDir(), DryRun: true})
	if err != nil {
		t.Fatalf("Reap dry run on the host: %v", err)
	}
	t.Logf("host dry run would remove: %v", rep.Removed)
}
