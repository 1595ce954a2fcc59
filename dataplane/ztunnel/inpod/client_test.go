package inpod

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAddServesInsidePodNetnsAndDelCloses(t *testing.T) {
	nstest.RequireRoot(t)
	podNs := nstest.NewNetns(t)
	agent, h := newFakeAgent(t), newEchoHandler()
	client := startClient(t, agent, h)
	agent.accept()

	agent.mustAck(zds.Add("uid-a", info("a")), podNs)
	s := h.sockets("uid-a")
	if s == nil {
		t.Fatal("handler got no sockets")
	}
	want := netnsInode(t, podNs)
	if s.NetnsInode != want {
		t.Errorf("PodSockets.NetnsInode %d, want %d", s.NetnsInode, want)
	}
	for name, l := range map[string]net.Listener{"outbound": s.Outbound, "inbound": s.Inbound, "plaintext": s.InboundPlaintext} {
		if got := socketNetnsInode(t, l.(*net.TCPListener)); got != want {
			t.Errorf("%s listener lives in netns %d, want the pod's %d", name, got, want)
		}
		if got := sockoptInt(t, l, unix.SOL_SOCKET, unix.SO_MARK); got != Mark {
			t.Errorf("%s listener SO_MARK %#x, want %#x", name, got, Mark)
		}
		if got := sockoptInt(t, l, unix.SOL_SOCKET, unix.SO_REUSEPORT); got != 1 {
			t.Errorf("%s listener without SO_REUSEPORT", name)
		}
		if got := sockoptInt(t, l, unix.SOL_IP, unix.IP_TRANSPARENT); got != 1 {
			t.Errorf("%s listener without IP_TRANSPARENT", name)
		}
	}
	if got, err := askIn(t, podNs, "127.0.0.1:15008"); err != nil || got != "inbound 127.0.0.1:15008" {
		t.Errorf("connect to 127.0.0.1:15008 in the pod: %q, %v", got, err)
	}
	if got := client.Pods(); len(got) != 1 || got[0].UID != "uid-a" || got[0].Name != "pod-a" || got[0].ServiceAccount != "sa-a" || got[0].NetnsInode != want {
		t.Errorf("Pods() = %+v", got)
	}

	select {
	case <-client.Ready():
		t.Fatal("ready before SnapshotSent")
	default:
	}
	agent.mustAck(zds.SnapshotSent(), -1)
	<-client.Ready()

	agent.mustAck(zds.Del("uid-a"), -1)
	if _, err := askIn(t, podNs, "127.0.0.1:15008"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after Del, connect to 15008: %v, want connection refused", err)
	}
	if got := h.removedUIDs(); !slices.Equal(got, []string{"uid-a"}) {
		t.Errorf("RemovePod calls %v", got)
	}
	if len(client.Pods()) != 0 {
		t.Errorf("Pods() after Del = %+v", client.Pods())
	}
	if _, err := s.Dial(t.Context(), netip.MustParseAddrPort("127.0.0.1:1")); !errors.Is(err, ErrPodRemoved) {
		t.Errorf("Dial after Del: %v, want ErrPodRemoved", err)
	}
	agent.mustAck(zds.Del("uid-unknown"), -1) // deletes are broadcast; unknown is fine
}

func TestReconnectReplayKeepsServedPodsAndDropsMissing(t *testing.T) {
	nstest.RequireRoot(t)
	nsA, nsB := nstest.NewNetns(t), nstest.NewNetns(t)
	agent, h := newFakeAgent(t), newEchoHandler()
	client := startClient(t, agent, h)
	agent.accept()
	agent.mustAck(zds.Add("uid-a", info("a")), nsA)
	agent.mustAck(zds.Add("uid-b", info("b")), nsB)
	agent.mustAck(zds.SnapshotSent(), -1)

	agent.conn.Close() // the agent restarts
	agent.accept()     // the client reconnects after its backoff
	agent.mustAck(zds.Add("uid-a", info("a")), nsA)
	if n := h.addCount("uid-a"); n != 1 {
		t.Errorf("replayed add re-created the pod: %d AddPod calls", n)
	}
	if len(client.Pods()) != 2 {
		t.Fatalf("before SnapshotSent: %+v, want both pods still served", client.Pods())
	}
	agent.mustAck(zds.SnapshotSent(), -1)
	if got := client.Pods(); len(got) != 1 || got[0].UID != "uid-a" {
		t.Errorf("after SnapshotSent: %+v, want only uid-a", got)
	}
	if got := h.removedUIDs(); !slices.Equal(got, []string{"uid-b"}) {
		t.Errorf("RemovePod calls %v, want [uid-b]", got)
	}
	if _, err := askIn(t, nsB, "127.0.0.1:15006"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dropped pod still listening: %v", err)
	}

	// Same uid, new namespace: the pod sandbox was recreated.
	nsA2 := nstest.NewNetns(t)
	agent.mustAck(zds.Add("uid-a", info("a")), nsA2)
	if got := client.Pods(); len(got) != 1 || got[0].NetnsInode != netnsInode(t, nsA2) {
		t.Errorf("after re-add in a new netns: %+v", got)
	}
}

func TestNacks(t *testing.T) {
	nstest.RequireRoot(t)
	podNs := nstest.NewNetns(t)
	agent, h := newFakeAgent(t), newEchoHandler()
	client := startClient(t, agent, h)
	agent.accept()

	devNull, err := os.Open(os.DevNull)
	nstest.Must(t, err)
	defer devNull.Close()
	if ack := agent.send(zds.Add("uid-bad", info("bad")), int(devNull.Fd())); !strings.Contains(ack, "not a network namespace") {
		t.Errorf("add with /dev/null as netns: ack %q", ack)
	}

	h.mu.Lock()
	h.failAdd = errors.New("no certificate for sa-x")
	h.mu.Unlock()
	if ack := agent.send(zds.Add("uid-x", info("x")), podNs); !strings.Contains(ack, "no certificate for sa-x") {
		t.Errorf("handler refusal: ack %q", ack)
	}
	// The refused pod's listeners were closed: the port is free again.
	var l net.Listener
	nstest.InNetns(t, podNs, func() { l, err = net.Listen("tcp4", "0.0.0.0:15001") })
	nstest.Must(t, err)
	l.Close()

	// A malformed packet is NACKed and the conversation goes on.
	b := []byte{0xff, 0xff}
	agent.conn.SetDeadline(time.Now().Add(5 * time.Second))
	nstest.Must(t, agent.conn.SendPacket(b))
	ack, err := agent.conn.RecvAck()
	if err != nil || !strings.Contains(ack, "malformed") {
		t.Errorf("malformed request: ack %q, %v", ack, err)
	}
	if len(client.Pods()) != 0 {
		t.Errorf("Pods() = %+v after NACKs", client.Pods())
	}
	agent.mustAck(zds.SnapshotSent(), -1)
}

func TestDialersLiveInPodNetnsWithMark(t *testing.T) {
	nstest.RequireRoot(t)
	podNs := nstest.NewNetns(t)
	agent, h := newFakeAgent(t), newEchoHandler()
	startClient(t, agent, h)
	agent.accept()
	agent.mustAck(zds.Add("uid-a", info("a")), podNs)
	s := h.sockets("uid-a")

	c, err := s.Dial(t.Context(), netip.MustParseAddrPort("127.0.0.1:15008"))
	nstest.Must(t, err)
	defer c.Close()
	tc := c.(*net.TCPConn)
	if got := socketNetnsInode(t, tc); got != s.NetnsInode {
		t.Errorf("dialed socket in netns %d, want %d", got, s.NetnsInode)
	}
	rc, _ := tc.SyscallConn()
	var mark int
	nstest.Must(t, rc.Control(func(fd uintptr) { mark, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK) }))
	if err != nil || mark != Mark {
		t.Errorf("dialed socket SO_MARK %#x (%v), want %#x", mark, err, Mark)
	}

	// Transparent: bind a source address the pod does not own. Replies to it
	// are delivered locally by a policy route, the way the in-pod rules'
	// 0x111 mark and table 100 bring spoofed-source replies back.
	src := netip.MustParseAddrPort("192.0.2.7:0")
	nstest.WithHandle(t, podNs, func(nh *netlink.Handle) {
		lo, err := nh.LinkByName("lo")
		nstest.Must(t, err)
		nstest.Must(t, nh.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Table: 100, Type: unix.RTN_LOCAL,
			Scope: netlink.SCOPE_HOST, Dst: &net.IPNet{IP: src.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}}))
		rule := netlink.NewRule()
		rule.Dst, rule.Table, rule.Priority = &net.IPNet{IP: src.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}, 100, 100
		nstest.Must(t, nh.RuleAdd(rule))
	})
	var l net.Listener
	nstest.InNetns(t, podNs, func() { l, err = net.Listen("tcp4", "127.0.0.1:9090") })
	nstest.Must(t, err)
	defer l.Close()
	accepted := make(chan netip.AddrPort, 1)
	go func() {
		defer close(accepted)
		if ac, err := l.Accept(); err == nil {
			accepted <- ac.RemoteAddr().(*net.TCPAddr).AddrPort()
			ac.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	dc, err := s.DialTransparent(ctx, src, netip.MustParseAddrPort("127.0.0.1:9090"))
	if err != nil {
		l.Close()
		<-accepted
		t.Fatalf("DialTransparent: %v", err)
	}
	defer dc.Close()
	if got := (<-accepted).Addr(); got != src.Addr() {
		t.Errorf("server saw source %v, want %v", got, src.Addr())
	}
	// Without IP_TRANSPARENT the same bind is refused: the option is what
	// made it work.
	plain := sockets.WithMark(sockets.InNetns(sockets.Default(), mustGetNS(t, podNs)), Mark)
	if c, err := plain.Dial(ctx, src, netip.MustParseAddrPort("127.0.0.1:9090")); err == nil {
		c.Close()
		t.Error("foreign-source dial without IP_TRANSPARENT succeeded")
	}
}

func TestConfigValidation(t *testing.T) {
	ok := DefaultConfig()
	ok.SocketPath, ok.Handler = "/run/ztunnel.sock", newEchoHandler()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no socket", func(c *Config) { c.SocketPath = "" }, "SocketPath"},
		{"no handler", func(c *Config) { c.Handler = nil }, "Handler"},
		{"same ports", func(c *Config) { c.Ports.Inbound = c.Ports.Outbound }, "distinct"},
		{"zero backoff", func(c *Config) { c.Backoff.Initial = 0 }, "Backoff"},
		{"no listen addr", func(c *Config) { c.ListenAddr = netip.Addr{} }, "ListenAddr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			_, err := NewClient(cfg)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("NewClient: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 15 * time.Second}
	var got []time.Duration
	d := time.Duration(0)
	for range 13 {
		d = b.Next(d)
		got = append(got, d)
	}
	if got[0] != 10*time.Millisecond || got[1] != 20*time.Millisecond || got[10] != 10240*time.Millisecond || got[11] != 15*time.Second || got[12] != 15*time.Second {
		t.Errorf("backoff sequence %v", got)
	}
}

func mustGetNS(t *testing.T, fd int) ns.NetNS {
	t.Helper()
	n, err := ns.GetNS(fmt.Sprintf("/proc/self/fd/%d", fd))
	nstest.Must(t, err)
	t.Cleanup(func() { n.Close() })
	return n
}
