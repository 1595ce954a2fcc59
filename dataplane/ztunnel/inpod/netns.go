package inpod

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// ErrPodRemoved is returned by a pod's dialers once the pod is gone.
var ErrPodRemoved = errors.New("inpod: pod removed")

// ErrNotNetns: the fd of an AddWorkload is not a network namespace.
var ErrNotNetns = errors.New("inpod: fd is not a network namespace")

// nsGetNSType is ioctl NS_GET_NSTYPE, _IO(0xb7, 0x3) (linux/nsfs.h), the
// check ztunnel's validate_ns makes; x/sys does not define it.
const nsGetNSType = 0xb703

// podNetns is a pod's namespace, shared by its listeners' creation and its
// dialers. Closing waits for no one: the fd is released when the last
// in-flight dial finishes, so RemovePod never blocks on a slow connect and a
// dial never runs setns on a closed (or reused) fd number.
type podNetns struct {
	inode uint64

	mu      sync.Mutex
	netns   ns.NetNS
	users   int
	closing bool
}

// openPodNetns takes ownership of f (received over SCM_RIGHTS), checks that
// it is a network namespace and returns it with its inode.
func openPodNetns(f *os.File) (*podNetns, error) {
	defer f.Close()
	fd := int(f.Fd())
	if t, err := unix.IoctlRetInt(fd, nsGetNSType); err != nil || t != unix.CLONE_NEWNET {
		return nil, fmt.Errorf("%w (NS_GET_NSTYPE: type %#x, %v)", ErrNotNetns, t, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("inpod: stat netns fd: %w", err)
	}
	// GetNS opens a fresh fd on the same namespace through /proc, and
	// validates it lives on nsfs; ns.NetNS.Do is the locked-thread setns.
	n, err := ns.GetNS(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return nil, fmt.Errorf("inpod: open netns: %w", err)
	}
	return &podNetns{inode: st.Ino, netns: n}, nil
}

// acquire reserves the namespace for one socket creation.
func (p *podNetns) acquire() (ns.NetNS, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, false
	}
	p.users++
	return p.netns, true
}

func (p *podNetns) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users--
	if p.closing && p.users == 0 {
		p.netns.Close()
	}
}

// close releases the fd now, or when the last in-flight user is done.
func (p *podNetns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return
	}
	p.closing = true
	if p.users == 0 {
		p.netns.Close()
	}
}
