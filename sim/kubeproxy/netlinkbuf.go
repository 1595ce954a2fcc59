package kubeproxy

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// batchBufferBytes sizes the netlink socket buffers for one Sync. A full
// resync of 1000 Services x 3 endpoints is a few MiB in a single sendmsg, far
// above the default wmem (~200 KiB), which fails with EMSGSIZE; the kernel then
// answers with one ack per message. nft itself raises the buffers the same way
// (nftables src/mnl.c mnl_set_sndbuffer/mnl_set_rcvbuffer). Memory is only
// charged for what is queued.
const batchBufferBytes = 64 << 20

// largeBatch is a socket option for nftables.New: capped acks (no echo of the
// request in each ack) and buffers big enough for a full resync.
func largeBatch() nftables.ConnOption {
	return nftables.WithSockOptions(func(c *netlink.Conn) error {
		if err := c.SetOption(netlink.CapAcknowledge, true); err != nil {
			return fmt.Errorf("NETLINK_CAP_ACK: %w", err)
		}
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = setBuffer(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF)
			if serr == nil {
				serr = setBuffer(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF)
			}
		}); err != nil {
			return err
		}
		return serr
	})
}

// setBuffer uses the *FORCE variant (needs CAP_NET_ADMIN, which programming
// nftables needs anyway) and falls back to the capped one.
func setBuffer(fd, force, capped int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, batchBufferBytes); err == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, capped, batchBufferBytes); err != nil {
		return fmt.Errorf("netlink socket buffer: %w", err)
	}
	return nil
}
