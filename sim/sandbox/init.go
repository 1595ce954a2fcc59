package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// StateRoot is the host directory for run state that must outlive a sandbox
// (control sockets); Reap cleans it. The sandbox's private tmpfs is mounted
// on its "sandbox" subdirectory.
const StateRoot = "/run/ambientlab"

// StateDir returns the sandbox's private state directory: a tmpfs mounted in
// the sandbox's own mount namespace, so it vanishes with the sandbox. On the
// host the same path is an empty directory.
func StateDir() string { return StateRoot + "/sandbox" }

// initArgs is the argv contract between Start and runInit:
// __sandbox-init <runID> <nExtraFiles> -- <supervisor args...>
// The caller's extra files are fds 3..3+n-1, then the lifeline (read end,
// held open by the parent) and the ready pipe (write end).
type initArgs struct {
	runID      string
	nExtra     int
	supervisor []string
}

func (a initArgs) lifelineFD() int { return 3 + a.nExtra }
func (a initArgs) readyFD() int    { return 4 + a.nExtra }

func (a initArgs) encode() []string {
	out := []string{string(modeInit), a.runID, strconv.Itoa(a.nExtra), "--"}
	return append(out, a.supervisor...)
}

func parseInitArgs(args []string) (initArgs, error) {
	if len(args) < 3 || args[2] != "--" {
		return initArgs{}, fmt.Errorf("usage: %s RUNID NEXTRA -- ARGS", modeInit)
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		return initArgs{}, fmt.Errorf("bad extra-file count %q", args[1])
	}
	return initArgs{runID: args[0], nExtra: n, supervisor: args[3:]}, nil
}

// runInit is PID 1 of the sandbox. It sets up the private mounts, starts the
// supervisor, reaps every orphan, forwards SIGINT/SIGTERM, and exits with the
// supervisor's status — at which point the kernel kills everything left in
// the PID namespace, and with it every namespace those processes held.
func runInit(args []string) int {
	a, err := parseInitArgs(args)
	if err != nil {
		return helperFail(modeInit, "%v", err)
	}
	// Die with the parent's thread. Go's own Pdeathsig check cannot detect an
	// already-dead parent across a PID namespace (getppid is 0 here), so we
	// also poll the lifeline pipe: its write end closes only when the parent dies.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return helperFail(modeInit, "set parent-death signal: %v", err)
	}
	unix.CloseOnExec(a.lifelineFD())
	unix.CloseOnExec(a.readyFD())
	if parentGone(a.lifelineFD()) {
		return 1
	}
	if err := setupMounts(); err != nil {
		return helperFail(modeInit, "%v", err)
	}
	if lo, err := netlink.LinkByName("lo"); err != nil || netlink.LinkSetUp(lo) != nil {
		return helperFail(modeInit, "set lo up in sandbox: %v", err)
	}

	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i := 0; i < a.nExtra; i++ {
		files = append(files, os.NewFile(uintptr(3+i), fmt.Sprintf("extra-%d", i)))
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	sigs := make(chan os.Signal, 4)
	// Handlers must exist before the supervisor does: PID 1 drops signals it
	// has no handler for, and a signal arriving early must still be forwarded.
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	proc, err := os.StartProcess("/proc/self/exe", append([]string{exe}, a.supervisor...), &os.ProcAttr{Files: files})
	if err != nil {
		return helperFail(modeInit, "start supervisor: %v", err)
	}
	// Drop our copies of the passed-through files, so a pipe the supervisor
	// closes (a readiness pipe) reads EOF at the other end.
	for _, f := range files[3:] {
		f.Close()
	}
	// This goroutine lives until os.Exit ends the process; it has nothing to release.
	go func() {
		for s := range sigs {
			proc.Signal(s)
		}
	}()
	go watchLifeline(a.lifelineFD())
	// Tell Start we are up: from now on SIGINT/SIGTERM reach the supervisor.
	ready := os.NewFile(uintptr(a.readyFD()), "ready")
	fmt.Fprintf(ready, "ok %d\n", proc.Pid)
	ready.Close()
	return reapUntil(proc.Pid)
}

// reapUntil waits for every child (orphans are re-parented to PID 1) until
// the supervisor exits, and returns the supervisor's exit code.
func reapUntil(supervisor int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return helperFail(modeInit, "wait: %v", err)
		}
		if pid != supervisor {
			continue
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

func setupMounts() error {
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	// A /proc for our PID namespace, so /proc/1 is this init and /proc lists
	// only the sandbox's processes.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	dir := StateDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		// Rootless on a host without the directory: put a private /run in
		// place first (hides the host's /run from the sandbox only).
		if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
			return fmt.Errorf("mount private /run: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount state tmpfs on %s: %w", dir, err)
	}
	return nil
}

// parentGone reports whether the lifeline's write end (held only by the
// parent) is closed.
func parentGone(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// watchLifeline blocks until the parent dies (EOF on the lifeline) and then
// exits: a second line of defence behind the parent-death signal.
func watchLifeline(fd int) {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if errors.Is(err, unix.EINTR) || n > 0 {
			continue
		}
		os.Exit(1)
	}
}
