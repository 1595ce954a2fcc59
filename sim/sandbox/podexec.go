package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// PodExecSpec describes one process to run as a pod's container.
type PodExecSpec struct {
	Path string   // absolute path of the program
	Args []string // argv including argv[0]; empty means [Path]
	Env  []string // the full environment (nil: none)
	Dir  string   // working directory; empty: inherit
	// ResolvConf and Hosts are files bind-mounted onto /etc/resolv.conf and
	// /etc/hosts in the process's private mount namespace; empty: leave as is.
	ResolvConf, Hosts string
	Hostname          string // empty: inherit
	Stdin             io.Reader
	Stdout, Stderr    io.Writer
	ExtraFiles        []*os.File
}

// podExecArgs is the argv contract: __podexec RESOLV HOSTS HOSTNAME PATH -- ARGV...
func (s PodExecSpec) podExecArgs() []string {
	args := s.Args
	if len(args) == 0 {
		args = []string{s.Path}
	}
	return append([]string{string(modePodExec), s.ResolvConf, s.Hosts, s.Hostname, s.Path, "--"}, args...)
}

// PodCommand builds the command that runs spec as a pod process. It does not
// enter the pod's network namespace: start it with the pod's netns.NS.Start,
// which forks it from a thread inside that namespace. The helper unshares
// mount and UTS namespaces, installs the pod's resolv.conf, hosts and
// hostname, and then execs spec.Path in place, so the Cmd's PID is the
// workload's PID.
func PodCommand(spec PodExecSpec) *exec.Cmd {
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       append([]string{os.Args[0]}, spec.podExecArgs()...),
		Env:        spec.Env,
		Dir:        spec.Dir,
		Stdin:      spec.Stdin,
		Stdout:     spec.Stdout,
		Stderr:     spec.Stderr,
		ExtraFiles: spec.ExtraFiles,
		SysProcAttr: &syscall.SysProcAttr{
			Unshareflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS,
			Pdeathsig:    syscall.SIGKILL,
		},
	}
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	return cmd
}

func runPodExec(args []string) int {
	if len(args) < 6 || args[4] != "--" {
		return helperFail(modePodExec, "usage: %s RESOLV HOSTS HOSTNAME PATH -- ARGV...", modePodExec)
	}
	resolv, hosts, hostname, path, argv := args[0], args[1], args[2], args[3], args[5:]
	// The Go runtime already made / private after unsharing the mount
	// namespace, so these binds stay in this process's view.
	for _, b := range []struct{ src, dst string }{{resolv, "/etc/resolv.conf"}, {hosts, "/etc/hosts"}} {
		if b.src == "" {
			continue
		}
		if err := unix.Mount(b.src, b.dst, "", unix.MS_BIND, ""); err != nil {
			return helperFail(modePodExec, "bind %s onto %s: %v", b.src, b.dst, err)
		}
	}
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return helperFail(modePodExec, "set hostname %q: %v", hostname, err)
		}
	}
	err := unix.Exec(path, argv, os.Environ())
	return helperFail(modePodExec, "exec %s: %v", path, fmt.Errorf("%w", err))
}
