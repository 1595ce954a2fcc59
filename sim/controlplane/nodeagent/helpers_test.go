package nodeagent

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
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod"
	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
	"github.com/ambientlab/ambientlab/sim/redirect"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func requireNetns(t *testing.T) {
	t.Helper()
	sandbox.Require(t)
	nstest.RequireRoot(t)
}

// startServer runs a node agent until the test ends.
func startServer(t *testing.T, r Redirector) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SocketPath = filepath.Join(t.TempDir(), "ztunnel.sock")
	cfg.Logger = quietLogger()
	cfg.AckTimeout = 2 * time.Second
	cfg.Keepalive = 50 * time.Millisecond
	cfg.Redirector = r
	s, err := New(cfg)
	nstest.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		nstest.Must(t, <-done)
		s.Close()
	})
	return s
}

// ztunnel is a reference in-pod client with an echo proxy, stoppable
// mid-test to play a restart.
type ztunnel struct {
	client *inpod.Client
	h      *echoHandler
	cancel context.CancelFunc
	done   chan struct{}
}

func startZtunnel(t *testing.T, s *Server) *ztunnel {
	t.Helper()
	h := &echoHandler{pods: map[string]*inpod.PodSockets{}}
	cfg := inpod.DefaultConfig()
	cfg.SocketPath, cfg.Handler, cfg.Logger = s.SocketPath(), h, quietLogger()
	c, err := inpod.NewClient(cfg)
	nstest.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	z := &ztunnel{client: c, h: h, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(z.done); c.Run(ctx) }()
	t.Cleanup(z.stop)
	return z
}

func (z *ztunnel) stop() {
	z.cancel()
	<-z.done
	z.h.wg.Wait()
}

func (z *ztunnel) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-z.client.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("ztunnel never got the snapshot")
	}
}

func (z *ztunnel) uids() []string {
	var out []string
	for _, p := range z.client.Pods() {
		out = append(out, p.UID)
	}
	return out
}

// echoHandler answers every connection with "<listener> <original dst>".
type echoHandler struct {
	mu   sync.Mutex
	pods map[string]*inpod.PodSockets
	wg   sync.WaitGroup
}

func (h *echoHandler) AddPod(_ context.Context, wl inpod.WorkloadInfo, s *inpod.PodSockets) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pods[wl.UID] = s
	for name, l := range map[string]net.Listener{"outbound": s.Outbound, "hbone": s.Inbound, "inbound": s.InboundPlaintext} {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			serveEcho(l, name)
		}()
	}
	return nil
}

func (h *echoHandler) RemovePod(uid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pods, uid)
}

func (h *echoHandler) sockets(uid string) *inpod.PodSockets {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pods[uid]
}

func serveEcho(l net.Listener, label string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		dst, err := sockets.OriginalDst(c.(*net.TCPConn))
		if err != nil { // no conntrack entry: not NATed
			dst = c.LocalAddr().(*net.TCPAddr).AddrPort()
		}
		fmt.Fprintf(c, "%s %s\n", label, netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()))
		c.Close()
	}
}

// serveApp runs an echo server inside ns until the test ends.
func serveApp(t *testing.T, ns int, port uint16, label string) {
	t.Helper()
	var l net.Listener
	var err error
	nstest.InNetns(t, ns, func() { l, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port)) })
	nstest.Must(t, err)
	done := make(chan struct{})
	go func() { defer close(done); serveEcho(l, label) }()
	t.Cleanup(func() { l.Close(); <-done })
}

// ask dials dst from inside ns with an unmarked socket and returns the answer.
func ask(t *testing.T, ns int, dst netip.AddrPort) string {
	t.Helper()
	var c net.Conn
	var err error
	nstest.InNetns(t, ns, func() { c, err = net.DialTimeout("tcp4", dst.String(), 2*time.Second) })
	if err != nil {
		return "dial error: " + err.Error()
	}
	return readLine(c)
}

func readLine(c net.Conn) string {
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "read error: " + err.Error()
	}
	return strings.TrimSpace(line)
}

func netnsInode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	nstest.Must(t, unix.Fstat(fd, &st))
	return st.Ino
}

// recordingRedirector records calls and applies nothing: for ZDS-only tests.
type recordingRedirector struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingRedirector) Apply(fd int, _ redirect.Options) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "apply")
	return nil
}

func (r *recordingRedirector) Remove(fd int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "remove")
	return nil
}
