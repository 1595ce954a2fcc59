package inpod

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"istio.io/istio/pkg/zdsapi"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
)

// echoHandler is a stand-in proxy core: every accepted connection is answered
// with "<listener> <original dst>" and closed.
type echoHandler struct {
	mu      sync.Mutex
	added   map[string]*PodSockets
	adds    map[string]int
	removed []string
	failAdd error
	wg      sync.WaitGroup
}

var _ PodHandler = (*echoHandler)(nil)

func newEchoHandler() *echoHandler {
	return &echoHandler{added: map[string]*PodSockets{}, adds: map[string]int{}}
}

func (h *echoHandler) AddPod(_ context.Context, wl WorkloadInfo, s *PodSockets) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failAdd != nil {
		return h.failAdd
	}
	h.added[wl.UID] = s
	h.adds[wl.UID]++
	for name, l := range map[string]net.Listener{"outbound": s.Outbound, "inbound": s.Inbound, "plaintext": s.InboundPlaintext} {
		h.wg.Add(1)
		go h.serve(name, l)
	}
	return nil
}

func (h *echoHandler) serve(name string, l net.Listener) {
	defer h.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		// Without NAT conntrack has no entry (ENOENT): the local address
		// is then the destination.
		dst, err := sockets.OriginalDst(c.(*net.TCPConn))
		if err != nil {
			dst = c.LocalAddr().(*net.TCPAddr).AddrPort()
		}
		// Go binds 0.0.0.0 as a dual-stack socket: unmap ::ffff:a.b.c.d.
		dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
		fmt.Fprintf(c, "%s %s\n", name, dst)
		c.Close()
	}
}

func (h *echoHandler) RemovePod(uid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.added, uid)
	h.removed = append(h.removed, uid)
}

func (h *echoHandler) sockets(uid string) *PodSockets {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.added[uid]
}

func (h *echoHandler) addCount(uid string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.adds[uid]
}

func (h *echoHandler) removedUIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.removed...)
}

// fakeAgent is the node agent's end, driven step by step by a test.
type fakeAgent struct {
	t    *testing.T
	l    *zds.Listener
	conn *zds.Conn
}

func newFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	l, err := zds.Listen(filepath.Join(t.TempDir(), "ztunnel.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &fakeAgent{t: t, l: l}
}

// accept waits for the client's (next) connection and its hello.
func (a *fakeAgent) accept() {
	a.t.Helper()
	c, err := a.l.Accept()
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.RecvHello(); err != nil {
		a.t.Fatal(err)
	}
	a.conn = c
}

// send sends req (with fd for an add) and returns the ack's error text.
func (a *fakeAgent) send(req *zdsapi.WorkloadRequest, fd int) string {
	a.t.Helper()
	a.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := a.conn.SendRequest(req, fd); err != nil {
		a.t.Fatal(err)
	}
	ack, err := a.conn.RecvAck()
	if err != nil {
		a.t.Fatal(err)
	}
	return ack
}

func (a *fakeAgent) mustAck(req *zdsapi.WorkloadRequest, fd int) {
	a.t.Helper()
	if ack := a.send(req, fd); ack != "" {
		a.t.Fatalf("%s %s NACKed: %s", zds.KindOf(req), zds.UID(req), ack)
	}
}

// startClient runs a Client against a until the test ends.
func startClient(t *testing.T, a *fakeAgent, h PodHandler) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SocketPath = a.l.Path()
	cfg.Handler = h
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func info(uid string) *zdsapi.WorkloadInfo {
	return &zdsapi.WorkloadInfo{Name: "pod-" + uid, Namespace: "ns1", ServiceAccount: "sa-" + uid}
}

func netnsInode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	nstest.Must(t, unix.Fstat(fd, &st))
	return st.Ino
}

// socketNetnsInode is the inode of the namespace a socket lives in
// (ioctl SIOCGSKNS returns an fd to it).
func socketNetnsInode(t *testing.T, c interface {
	SyscallConn() (syscall.RawConn, error)
}) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	nstest.Must(t, err)
	var ino uint64
	var ierr error
	nstest.Must(t, rc.Control(func(fd uintptr) {
		nsfd, err := unix.IoctlRetInt(int(fd), unix.SIOCGSKNS)
		if err != nil {
			ierr = err
			return
		}
		defer unix.Close(nsfd)
		var st unix.Stat_t
		ierr = unix.Fstat(nsfd, &st)
		ino = st.Ino
	}))
	nstest.Must(t, ierr)
	return ino
}

// askIn dials addr from inside the namespace ns and returns the one-line answer.
func askIn(t *testing.T, ns int, addr string) (string, error) {
	t.Helper()
	var (
		c   net.Conn
		err error
	)
	nstest.InNetns(t, ns, func() { c, err = net.DialTimeout("tcp4", addr, 2*time.Second) })
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sockoptInt(t *testing.T, l net.Listener, level, opt int) int {
	t.Helper()
	rc, err := l.(*net.TCPListener).SyscallConn()
	nstest.Must(t, err)
	var v int
	var gerr error
	nstest.Must(t, rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }))
	nstest.Must(t, gerr)
	return v
}
