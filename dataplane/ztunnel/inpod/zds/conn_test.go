package zds

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seqpacketPair returns both ends of a connected SOCK_SEQPACKET pair.
func seqpacketPair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *Conn {
		f := os.NewFile(uintptr(fd), "seqpacket")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return NewConn(c.(*net.UnixConn))
	}
	return conn(fds[0]), conn(fds[1])
}

func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestConversationOverSeqpacket(t *testing.T) {
	agent, ztunnel := seqpacketPair(t)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()

	if err := ztunnel.SendHello(); err != nil {
		t.Fatal(err)
	}
	if err := agent.RecvHello(); err != nil {
		t.Fatal(err)
	}
	add := Add("uid-1", info)
	if err := agent.SendRequest(add, int(devNull.Fd())); err != nil {
		t.Fatal(err)
	}
	req, f, err := ztunnel.RecvRequest()
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(req, add) || f == nil || !sameFile(t, int(f.Fd()), int(devNull.Fd())) {
		t.Fatalf("received %v with %v, want %v with /dev/null", req, f, add)
	}
	f.Close()
	if err := ztunnel.SendAck("boom"); err != nil {
		t.Fatal(err)
	}
	if got, err := agent.RecvAck(); err != nil || got != "boom" {
		t.Fatalf("RecvAck = %q, %v", got, err)
	}
	if err := agent.SendRequest(SnapshotSent(), -1); err != nil {
		t.Fatal(err)
	}
	if req, f, err := ztunnel.RecvRequest(); err != nil || f != nil || KindOf(req) != KindSnapshotSent {
		t.Fatalf("RecvRequest = %v, %v, %v", req, f, err)
	}
	agent.Close()
	if _, _, err := ztunnel.RecvRequest(); !errors.Is(err, io.EOF) {
		t.Errorf("after peer close: %v, want EOF", err)
	}
}

func TestSendRequestChecksFdPairing(t *testing.T) {
	agent, _ := seqpacketPair(t)
	if err := agent.SendRequest(Add("u", info), -1); !errors.Is(err, ErrUnexpectedFds) {
		t.Errorf("add without fd: %v", err)
	}
	if err := agent.SendRequest(Del("u"), 0); !errors.Is(err, ErrUnexpectedFds) {
		t.Errorf("del with fd: %v", err)
	}
}

// TestReceivedFdsClosedOnError: a del that arrives with descriptors is
// rejected and the descriptors are not leaked.
func TestReceivedFdsClosedOnError(t *testing.T) {
	agent, ztunnel := seqpacketPair(t)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	b, err := EncodeRequest(Del("u"))
	if err != nil {
		t.Fatal(err)
	}
	fd := int(devNull.Fd())
	if err := agent.send(b, unix.UnixRights(fd, fd)); err != nil {
		t.Fatal(err)
	}
	before := countFds(t)
	ztunnel.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := ztunnel.RecvRequest(); !errors.Is(err, ErrUnexpectedFds) {
		t.Fatalf("RecvRequest: %v", err)
	}
	if after := countFds(t); after != before {
		t.Errorf("open fds %d → %d: received descriptors leaked", before, after)
	}
}

func countFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestListenDial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ztunnel.sock")
	if err := os.WriteFile(path+".file", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path + ".file"); err == nil {
		t.Error("Listen replaced a regular file")
	}
	stale, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: the socket file outlives the listener.
	stale.ul.SetUnlinkOnClose(false)
	stale.Close()
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			err = c.RecvHello()
			c.Close()
		}
		done <- err
	}()
	c, err := Dial(t.Context(), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendHello(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
