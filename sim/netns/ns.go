package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a network namespace held open by a file descriptor of this process.
// Namespaces made by New are anonymous: nothing names them in the file system,
// so the kernel frees them (and every veth inside) as soon as the last holder —
// this fd, or a process running inside — goes away, including on SIGKILL.
//
// All methods are safe for concurrent use; Close must not race with the others.
type NS struct {
	ns cnins.NetNS
	// closeOnce makes Close idempotent, so teardown paths may overlap.
	closeOnce sync.Once
	closeErr  error
}

// New creates an anonymous network namespace. setup, if non-nil, runs inside
// the new namespace on the creating (locked) thread before New returns — the
// cheapest place for sysctls and bringing lo up, because it saves a second
// namespace switch.
func New(setup func() error) (*NS, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	// A fresh goroutine owns the thread switch so that, if switching back
	// fails, the thread stays locked and dies with the goroutine instead of
	// returning a thread in the wrong namespace to the scheduler.
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("unshare network namespace: %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err == nil && setup != nil {
			if serr := setup(); serr != nil {
				f.Close()
				f, err = nil, fmt.Errorf("set up new netns: %w", serr)
			}
		} else if err != nil {
			err = fmt.Errorf("open new netns: %w", err)
		}
		if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr != nil {
			// Leave the thread locked: the runtime destroys it when this goroutine exits.
			if f != nil {
				f.Close()
			}
			ch <- result{err: fmt.Errorf("restore original netns: %w", serr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{f: f, err: err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	return wrapFile(r.f)
}

// Current returns a handle on the calling thread's network namespace.
func Current() (*NS, error) {
	n, err := cnins.GetCurrentNS()
	if err != nil {
		return nil, fmt.Errorf("get current netns: %w", err)
	}
	return &NS{ns: n}, nil
}

// FromFd duplicates fd (a namespace fd, e.g. received over SCM_RIGHTS) into a
// new NS; the caller keeps ownership of fd.
func FromFd(fd int) (*NS, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup netns fd %d: %w", fd, err)
	}
	return wrapFile(os.NewFile(uintptr(nfd), "netns"))
}

// wrapFile turns an open nsfs file into an NS through the CNI ns package,
// which owns the thread-locking discipline of Do. The file is consumed.
func wrapFile(f *os.File) (*NS, error) {
	defer f.Close()
	n, err := cnins.GetNS(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("open netns fd: %w", err)
	}
	return &NS{ns: n}, nil
}

// Fd returns the namespace file descriptor, valid until Close. Use it with
// setns(2), netlink.NsFd or nftables.WithNetNSFd; do not close it.
func (n *NS) Fd() int { return int(n.ns.Fd()) }

// Path returns a /proc path to the namespace that other processes (nsenter,
// ip) can open while this process is alive: /proc/<pid>/fd/<fd>.
func (n *NS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.Fd()) }

// Inode returns the namespace's inode number: its identity, stable for its lifetime.
func (n *NS) Inode() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(n.Fd(), &st); err != nil {
		return 0, fmt.Errorf("stat netns fd: %w", err)
	}
	return st.Ino, nil
}

// Do runs fn on a locked OS thread that is inside the namespace. fn must not
// unlock the thread or start goroutines that expect to stay in the namespace;
// sockets created in fn keep their namespace after Do returns.
func (n *NS) Do(fn func() error) error {
	return n.ns.Do(func(cnins.NetNS) error { return fn() })
}

// Handle returns a netlink handle bound to the namespace (route family only).
// No thread switching is needed to use it; the caller must Close it.
func (n *NS) Handle() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(vnetns.NsHandle(n.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in netns: %w", err)
	}
	return h, nil
}

// Start starts cmd inside the namespace: the child is forked from a thread
// that sits in the namespace and so inherits it. The caller owns cmd (Wait).
func (n *NS) Start(cmd *exec.Cmd) error {
	if err := n.Do(cmd.Start); err != nil {
		return fmt.Errorf("start %s in netns: %w", cmd.Path, err)
	}
	return nil
}

// Listen creates a listener whose socket lives in the namespace; it may then
// be served from any goroutine.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s %s in netns: %w", network, addr, err)
	}
	return l, nil
}

// ListenConfig is like Listen with a caller-supplied net.ListenConfig (for
// socket options such as SO_REUSEPORT or IP_TRANSPARENT).
func (n *NS) ListenConfig(ctx context.Context, lc *net.ListenConfig, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = lc.Listen(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s %s in netns: %w", network, addr, err)
	}
	return l, nil
}

// ListenPacket creates a packet socket that lives in the namespace.
func (n *NS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.Do(func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen packet %s %s in netns: %w", network, addr, err)
	}
	return pc, nil
}

// DialContext dials from inside the namespace. The whole dial (including the
// TCP handshake) runs on the locked thread, so bound it with ctx.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return n.DialWith(ctx, &net.Dialer{}, network, addr)
}

// DialWith is DialContext with a caller-supplied dialer (source address, Control hooks).
func (n *NS) DialWith(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s %s from netns: %w", network, addr, err)
	}
	return c, nil
}

// Close releases this process's reference. The namespace disappears once no
// process runs inside it and no other fd or mount holds it. Idempotent.
func (n *NS) Close() error {
	n.closeOnce.Do(func() {
		if err := n.ns.Close(); err != nil {
			n.closeErr = fmt.Errorf("close netns: %w", err)
		}
	})
	return n.closeErr
}
