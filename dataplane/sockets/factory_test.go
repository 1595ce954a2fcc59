package sockets

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func intOpt(t *testing.T, rc syscall.RawConn, level, opt int) int {
	t.Helper()
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs CAP_NET_ADMIN")
	}
}

// TestDecoratorsSetOptions checks each decorator's option on real loopback
// sockets, and that dial-only / listen-only options stay on their side.
func TestDecoratorsSetOptions(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	f := WithReusePort(WithTransparent(WithMark(Default(), InpodMark)))
	ln, err := f.Listen(ctx, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lrc, _ := ln.(*net.TCPListener).SyscallConn()
	if got := intOpt(t, lrc, unix.SOL_SOCKET, unix.SO_MARK); got != InpodMark {
		t.Errorf("listener SO_MARK = %#x", got)
	}
	if got := intOpt(t, lrc, unix.SOL_SOCKET, unix.SO_REUSEPORT); got != 1 {
		t.Errorf("listener SO_REUSEPORT = %d", got)
	}
	// A transparent dial may bind a source address that is not local.
	c, err := f.Dial(ctx, netip.MustParseAddrPort("127.0.0.9:0"), netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := netip.MustParseAddrPort(c.LocalAddr().String()).Addr(); got != netip.MustParseAddr("127.0.0.9") {
		t.Errorf("dial source = %v", got)
	}
	crc, _ := c.(*net.TCPConn).SyscallConn()
	if got := intOpt(t, crc, unix.SOL_SOCKET, unix.SO_MARK); got != InpodMark {
		t.Errorf("dial SO_MARK = %#x", got)
	}
	if got := intOpt(t, crc, unix.SOL_IP, unix.IP_TRANSPARENT); got != 1 {
		t.Errorf("dial IP_TRANSPARENT = %d", got)
	}
	if got := intOpt(t, crc, unix.SOL_SOCKET, unix.SO_REUSEPORT); got != 0 {
		t.Errorf("dial SO_REUSEPORT = %d, want listen-only", got)
	}
}

type foreign struct{ Factory }

func TestForeignFactoryIsNotDecorable(t *testing.T) {
	f := WithMark(foreign{Default()}, 1)
	if _, err := f.Dial(context.Background(), netip.AddrPort{}, netip.MustParseAddrPort("127.0.0.1:1")); !errors.Is(err, ErrNotDecorable) {
		t.Fatalf("err = %v, want ErrNotDecorable", err)
	}
}

// TestOriginalDstWithoutRedirect: without a NAT entry the call either
// reports the socket's own address or fails; it must never invent one.
func TestOriginalDstWithoutRedirect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := OriginalDst(s.(*net.TCPConn))
	if err == nil && got.String() != ln.Addr().String() {
		t.Fatalf("OriginalDst = %v, want %v or an error", got, ln.Addr())
	}
}

func TestWithBindOriginatesFromIP(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := WithMark(WithBind(Default(), netip.MustParseAddr("127.0.0.7")), 0) // decorators still compose
	c, err := f.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skip("SO_MARK needs CAP_NET_ADMIN")
		}
		t.Fatal(err)
	}
	defer c.Close()
	if got := netip.MustParseAddrPort(c.LocalAddr().String()).Addr().String(); got != "127.0.0.7" {
		t.Fatalf("source = %s, want 127.0.0.7", got)
	}
}
