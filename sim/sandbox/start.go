package sandbox

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// UserNSMode says whether the sandbox gets its own user namespace.
type UserNSMode int

const (
	// UserNSAuto uses a user namespace only when not running as root.
	UserNSAuto UserNSMode = iota
	// UserNSAlways always maps the caller to root in a new user namespace.
	UserNSAlways
	// UserNSNever never creates one (requires root).
	UserNSNever
)

func (m UserNSMode) String() string {
	switch m {
	case UserNSAuto:
		return "auto"
	case UserNSAlways:
		return "always"
	case UserNSNever:
		return "never"
	}
	return fmt.Sprintf("UserNSMode(%d)", int(m))
}

// ParseUserNSMode parses "auto", "always" or "never".
func ParseUserNSMode(s string) (UserNSMode, error) {
	for _, m := range []UserNSMode{UserNSAuto, UserNSAlways, UserNSNever} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown user namespace mode %q (want auto, always or never)", s)
}

// StartOptions configure a sandbox.
type StartOptions struct {
	// RunID names the run (reap filters, debug output). Default: 8 random hex digits.
	RunID string
	// Args are the supervisor's arguments after argv[0]; the supervisor is
	// this same binary (/proc/self/exe), started by the sandbox init.
	Args []string
	// Env is the supervisor's environment; nil means os.Environ().
	Env []string
	// Stdin, Stdout, Stderr of the supervisor; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles are passed to the supervisor as fds 3, 4, ... (readiness pipes).
	ExtraFiles []*os.File
	UserNS     UserNSMode
	// StopGrace is how long a cancelled ctx waits after SIGTERM before
	// SIGKILL. Default 5s.
	StopGrace time.Duration
	Logger    *slog.Logger
}

// Sandbox is a running sandbox seen from the outside.
type Sandbox struct {
	cmd      *exec.Cmd
	runID    string
	lifeline *os.File // write end; closing it (or dying) tells init to exit
	done     chan struct{}
	waitErr  error // set before done is closed
}

// ErrUserNSUnavailable means a rootless sandbox was needed but the kernel or
// its policy forbids unprivileged user namespaces.
var ErrUserNSUnavailable = errors.New("sandbox: unprivileged user namespaces are not available")

// Start launches a sandbox: a re-exec of this binary as __sandbox-init in new
// PID, network and mount namespaces, which then runs the supervisor
// (/proc/self/exe opts.Args...). If this process dies, even by SIGKILL, the
// init dies with it and the kernel destroys everything inside. Cancelling ctx
// sends SIGTERM, then SIGKILL after StopGrace.
func Start(ctx context.Context, opts StartOptions) (*Sandbox, error) {
	if opts.RunID == "" {
		opts.RunID = newRunID()
	}
	if strings.ContainsAny(opts.RunID, "/\x00 ") {
		return nil, fmt.Errorf("sandbox: bad run id %q", opts.RunID)
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	attr, err := sysProcAttr(opts.UserNS)
	if err != nil {
		return nil, err
	}
	// Best effort: as root the private tmpfs goes over this directory.
	_ = os.MkdirAll(StateDir(), 0o755)

	lr, lw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: lifeline pipe: %w", err)
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		lr.Close()
		lw.Close()
		return nil, fmt.Errorf("sandbox: ready pipe: %w", err)
	}
	defer rr.Close()
	ia := initArgs{runID: opts.RunID, nExtra: len(opts.ExtraFiles), supervisor: opts.Args}
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = append([]string{os.Args[0]}, ia.encode()...)
	cmd.Env = opts.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	cmd.ExtraFiles = append(append([]*os.File{}, opts.ExtraFiles...), lr, rw)
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = opts.StopGrace

	s := &Sandbox{cmd: cmd, runID: opts.RunID, lifeline: lw, done: make(chan struct{})}
	started := make(chan error, 1)
	// The parent-death signal fires when the thread that forked the child
	// exits, so fork from a locked thread that lives until the child is gone.
	// The goroutine never unlocks; its thread exits with it, after Wait.
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		lw.Close()
		close(s.done)
	}()
	err = <-started
	lr.Close()
	rw.Close()
	if err != nil {
		lw.Close()
		if attr.Cloneflags&unix.CLONE_NEWUSER != 0 && errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("%w: %v", ErrUserNSUnavailable, err)
		}
		return nil, fmt.Errorf("sandbox: start init: %w", err)
	}
	// Wait until init has its signal handlers and has started the
	// supervisor, so that Signal never hits the window where PID 1 drops
	// signals, and setup failures surface here rather than from Wait.
	line, _ := bufio.NewReader(rr).ReadString('\n')
	if !strings.HasPrefix(line, "ok ") {
		werr := s.Wait()
		return nil, fmt.Errorf("sandbox: init failed before starting the supervisor: %v", werr)
	}
	log.Debug("sandbox started", "run", s.runID, "pid", s.Pid(), "debug", s.DebugHint())
	return s, nil
}

func sysProcAttr(mode UserNSMode) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	useUserNS := mode == UserNSAlways || (mode == UserNSAuto && os.Geteuid() != 0)
	if mode == UserNSNever && os.Geteuid() != 0 {
		return nil, errors.New("sandbox: user namespaces disabled but not running as root")
	}
	if !useUserNS {
		return attr, nil
	}
	if err := userNSAllowed(); err != nil {
		return nil, err
	}
	attr.Cloneflags |= unix.CLONE_NEWUSER
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	attr.GidMappingsEnableSetgroups = false
	// No ambient capabilities needed: uid 0 of the new user namespace gets
	// the full set within it when it execs.
	return attr, nil
}

// userNSAllowed checks the sysctls that commonly forbid unprivileged user
// namespaces, so the error names the knob instead of a bare EPERM.
func userNSAllowed() error {
	if os.Geteuid() == 0 {
		return nil
	}
	for _, knob := range []struct{ path, bad string }{
		{"/proc/sys/kernel/unprivileged_userns_clone", "0"},
		{"/proc/sys/user/max_user_namespaces", "0"},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"},
	} {
		if b, err := os.ReadFile(knob.path); err == nil && strings.TrimSpace(string(b)) == knob.bad {
			return fmt.Errorf("%w: %s is %s (run as root, or change it)", ErrUserNSUnavailable, knob.path, knob.bad)
		}
	}
	return nil
}

// CanStart reports whether Start can work here: as root, or rootless with
// unprivileged user namespaces.
func CanStart() error {
	if os.Geteuid() == 0 {
		return nil
	}
	return userNSAllowed()
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RunID returns the run's ID.
func (s *Sandbox) RunID() string { return s.runID }

// Pid returns the host PID of the sandbox init (PID 1 inside).
func (s *Sandbox) Pid() int { return s.cmd.Process.Pid }

// Signal sends sig to the sandbox init; SIGINT and SIGTERM are forwarded to
// the supervisor (a supervisor that has not yet installed its own handler
// dies of them), SIGKILL destroys the sandbox at once. Other signals are
// dropped: PID 1 only receives signals it handles.
func (s *Sandbox) Signal(sig os.Signal) error {
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal sandbox %s: %w", s.runID, err)
	}
	return nil
}

// Kill destroys the sandbox and everything in it.
func (s *Sandbox) Kill() error { return s.Signal(syscall.SIGKILL) }

// Done is closed when the sandbox init has exited (and with it every process inside).
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// Wait waits for the sandbox to exit and returns the supervisor's status
// (an *exec.ExitError on a non-zero exit). Safe to call from several goroutines.
func (s *Sandbox) Wait() error {
	<-s.done
	return s.waitErr
}

// DebugHint is a command line that enters the sandbox's network and mount
// namespaces for debugging.
func (s *Sandbox) DebugHint() string {
	return fmt.Sprintf("nsenter -t %d -n -m -p", s.Pid())
}
