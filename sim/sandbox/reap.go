package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NamePrefix starts the name of every kernel object a run might name in a
// host-visible place ("ambientlab-<runid>..."). By design no run names any;
// Reap removes them defensively.
const NamePrefix = "ambientlab-"

// ObjectKind classifies what Reap removed.
type ObjectKind int

const (
	KindSocket     ObjectKind = iota // a unix socket file nobody listens on
	KindStateFile                    // an unheld .lock or a .pid file of a dead process
	KindNamedNetns                   // a bind-mounted netns under the netns directory
	KindLink                         // a host link named or alt-named with NamePrefix
	KindNftTable                     // a host nft table named with NamePrefix
	KindProcess                      // a sandbox helper whose parent is gone
)

func (k ObjectKind) String() string {
	switch k {
	case KindSocket:
		return "socket"
	case KindStateFile:
		return "state-file"
	case KindNamedNetns:
		return "named-netns"
	case KindLink:
		return "link"
	case KindNftTable:
		return "nft-table"
	case KindProcess:
		return "process"
	}
	return fmt.Sprintf("ObjectKind(%d)", int(k))
}

// ReapOptions scope a Reap.
type ReapOptions struct {
	// StateRoot holds control sockets and lock/pid files. Default StateRoot.
	StateRoot string
	// NetnsDir holds named network namespaces. Default /run/netns.
	NetnsDir string
	// RunID limits reaping to objects of one run (their name contains it).
	RunID  string
	DryRun bool // report, remove nothing
	Logger *slog.Logger
}

// Reaped is one object Reap removed (or would remove, with DryRun).
type Reaped struct {
	Kind ObjectKind
	Name string
}

func (r Reaped) String() string { return r.Kind.String() + " " + r.Name }

// ReapReport lists what Reap removed, sorted.
type ReapReport struct {
	Removed []Reaped
}

// Reap removes what a crashed run could leave in host-visible places: stale
// sockets and state files, and — defensively, since a run never creates
// them — named netns, links and nft tables carrying NamePrefix in the
// calling process's namespaces, and orphaned sandbox helper processes. It
// never touches a live run's objects (a socket that accepts, a lock that is
// held, an init whose parent is alive) and is idempotent. It returns what it
// removed and every error it met.
func Reap(opts ReapOptions) (ReapReport, error) {
	if opts.StateRoot == "" {
		opts.StateRoot = StateRoot
	}
	if opts.NetnsDir == "" {
		opts.NetnsDir = "/run/netns"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := reaper{opts: opts, prefix: NamePrefix + opts.RunID}
	errs := []error{r.stateFiles(), r.namedNetns(), r.links(), r.nftTables(), r.processes()}
	sort.Slice(r.removed, func(i, j int) bool {
		if r.removed[i].Kind != r.removed[j].Kind {
			return r.removed[i].Kind < r.removed[j].Kind
		}
		return r.removed[i].Name < r.removed[j].Name
	})
	return ReapReport{Removed: r.removed}, errors.Join(errs...)
}

type reaper struct {
	opts    ReapOptions
	prefix  string // NamePrefix + RunID
	removed []Reaped
}

// remove records obj and, unless DryRun, runs del.
func (r *reaper) remove(kind ObjectKind, name string, del func() error) error {
	if !r.opts.DryRun {
		if err := del(); err != nil {
			return fmt.Errorf("reap %s %s: %w", kind, name, err)
		}
	}
	r.opts.Logger.Info("reaped", "kind", kind, "name", name, "dryRun", r.opts.DryRun)
	r.removed = append(r.removed, Reaped{Kind: kind, Name: name})
	return nil
}

func (r *reaper) stateFiles() error {
	var errs []error
	err := filepath.WalkDir(r.opts.StateRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if path == StateDir() {
				return fs.SkipDir // the in-sandbox tmpfs mountpoint, empty on the host
			}
			return nil
		}
		if r.opts.RunID != "" && !strings.Contains(d.Name(), r.opts.RunID) {
			return nil
		}
		var stale bool
		switch {
		case d.Type()&fs.ModeSocket != 0:
			stale = socketStale(path)
		case strings.HasSuffix(path, ".lock"):
			stale = lockStale(path)
		case strings.HasSuffix(path, ".pid"):
			stale = pidFileStale(path)
		default:
			return nil
		}
		if stale {
			kind := KindStateFile
			if d.Type()&fs.ModeSocket != 0 {
				kind = KindSocket
			}
			errs = append(errs, r.remove(kind, path, func() error { return os.Remove(path) }))
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// socketStale: a socket file is stale when connecting is refused (no listener).
func socketStale(path string) bool {
	c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, unix.ECONNREFUSED)
}

// lockStale: a lock file is stale when nobody holds its flock.
func lockStale(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return true
}

// pidFileStale: a pid file is stale when its process no longer exists.
func pidFileStale(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	return errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

func (r *reaper) namedNetns() error {
	entries, err := os.ReadDir(r.opts.NetnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reap: read %s: %w", r.opts.NetnsDir, err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), r.prefix) {
			continue
		}
		path := filepath.Join(r.opts.NetnsDir, e.Name())
		errs = append(errs, r.remove(KindNamedNetns, path, func() error {
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount: %w", err)
			}
			return os.Remove(path)
		}))
	}
	return errors.Join(errs...)
}

func (r *reaper) links() error {
	links, err := netlink.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("reap: list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if !r.ours(append([]string{l.Attrs().Name}, l.Attrs().AltNames...)) {
			continue
		}
		errs = append(errs, r.remove(KindLink, l.Attrs().Name, func() error { return netlink.LinkDel(l) }))
	}
	return errors.Join(errs...)
}

func (r *reaper) ours(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, r.prefix) {
			return true
		}
	}
	return false
}

func (r *reaper) nftTables() error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("reap: nftables: %w", err)
	}
	tables, err := conn.ListTables()
	if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
		// A rootless run cannot have created host tables, and cannot list them.
		r.opts.Logger.Debug("reap: skipping host nft tables (not privileged)")
		return nil
	}
	if err != nil {
		return fmt.Errorf("reap: list nft tables: %w", err)
	}
	var errs []error
	for _, t := range tables {
		if !strings.HasPrefix(t.Name, r.prefix) {
			continue
		}
		errs = append(errs, r.remove(KindNftTable, t.Name, func() error {
			conn.DelTable(t)
			return conn.Flush()
		}))
	}
	return errors.Join(errs...)
}

// processes kills sandbox helpers whose parent is gone. A helper is always
// started by the same executable (a re-exec of /proc/self/exe), so a helper
// whose parent runs a different executable was re-parented: an orphan. The
// kernel's guarantees make this unreachable; Reap checks anyway.
func (r *reaper) processes() error {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("reap: read /proc: %w", err)
	}
	var errs []error
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		args := procCmdline(pid)
		if len(args) < 2 || (args[1] != string(modeInit) && args[1] != string(modePodExec)) {
			continue
		}
		if r.opts.RunID != "" && (args[1] != string(modeInit) || len(args) < 3 || args[2] != r.opts.RunID) {
			continue
		}
		ppid := procPPid(pid)
		if pid == 1 || ppid == 0 {
			continue // our own init, or a parent outside this PID namespace: not ours to judge
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		pexe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", ppid))
		if ppid > 1 && (exe == "" || pexe == "") {
			continue // cannot inspect (another user's process): leave it
		}
		if ppid > 1 && exe == pexe {
			continue // parent alive and ours: a live run
		}
		errs = append(errs, r.remove(KindProcess, fmt.Sprintf("%d %s", pid, strings.Join(args, " ")), func() error {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
			return nil
		}))
	}
	return errors.Join(errs...)
}

func procCmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func procPPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The comm field may contain spaces and parentheses; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
