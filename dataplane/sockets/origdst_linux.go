package sockets

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// OriginalDst returns the destination a REDIRECTed (or DNATed) TCP connection
// was addressed to before netfilter rewrote it, read from conntrack with
// getsockopt(SOL_IP, SO_ORIGINAL_DST) on the accepted socket. For a connection
// that was not rewritten it returns the socket's own local address (or an
// error when conntrack has no entry). IPv4 only. Moved from sim/redirect,
// since the data plane must not import sim.
func OriginalDst(c *net.TCPConn) (netip.AddrPort, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("original dst: %w", err)
	}
	var (
		addr    netip.AddrPort
		sockErr error
	)
	if err := raw.Control(func(fd uintptr) {
		// struct sockaddr_in is 16 bytes; IPv6Mreq is the 20-byte getsockopt
		// wrapper x/sys offers that can hold it: family(2) port(2, network
		// order) addr(4) zero(8).
		var mreq *unix.IPv6Mreq
		mreq, sockErr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
		if sockErr != nil {
			return
		}
		b := mreq.Multiaddr
		port := uint16(b[2])<<8 | uint16(b[3])
		addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), port)
	}); err != nil {
		return netip.AddrPort{}, fmt.Errorf("original dst: %w", err)
	}
	if sockErr != nil {
		return netip.AddrPort{}, fmt.Errorf("original dst: getsockopt SO_ORIGINAL_DST: %w", sockErr)
	}
	return addr, nil
}
