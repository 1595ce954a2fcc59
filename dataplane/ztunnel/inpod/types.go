package inpod

import (
	"context"
	"net"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// WorkloadInfo names the pod an AddWorkload is about (zds.proto AddWorkload
// uid + WorkloadInfo).
type WorkloadInfo struct {
	UID            string
	Name           string
	Namespace      string
	ServiceAccount string
}

// PodSockets are one pod's sockets, all created inside the pod's network
// namespace. The listeners belong to the Client: it closes them before
// calling PodHandler.RemovePod, so accept loops end with net.ErrClosed.
type PodSockets struct {
	// Outbound accepts the pod's captured outbound TCP (REDIRECT → 15001);
	// sockets.OriginalDst gives the destination the app dialed.
	Outbound net.Listener
	// Inbound accepts HBONE (mTLS + HTTP/2 CONNECT) on 15008.
	Inbound net.Listener
	// InboundPlaintext accepts captured plaintext inbound TCP (REDIRECT →
	// 15006); sockets.OriginalDst gives the pod address and port dialed.
	InboundPlaintext net.Listener

	// Dial connects from inside the pod's namespace with SO_MARK 0x539, so
	// the pod's capture rules let the connection through.
	Dial func(ctx context.Context, raddr netip.AddrPort) (net.Conn, error)
	// DialTransparent is Dial bound first to src, a foreign address (the
	// original client's, port 0 for any): IP_TRANSPARENT + IP_FREEBIND, as
	// ztunnel's freebind_connect. The reply path is the 0x111 connmark rule.
	DialTransparent func(ctx context.Context, src, raddr netip.AddrPort) (net.Conn, error)

	// Factory is the pod's socket factory (in its netns, SO_MARK 0x539) for
	// callers that decorate further (sockets.WithTransparent) or need other
	// sockets. Unlike Dial it is not guarded: it is valid until RemovePod
	// returns, after which the namespace fd is closed.
	Factory sockets.Factory

	// NetnsInode identifies the pod's network namespace (ztunnel
	// src/inpod/netns.rs InpodNetns keys by inode).
	NetnsInode uint64
}

// PodHandler is the proxy core's side of in-pod mode. Calls for one Client
// never overlap (ZDS is processed one message at a time).
type PodHandler interface {
	// AddPod starts serving the pod on s and returns; its accept loops run
	// on the handler's goroutines. An error NACKs the AddWorkload with its
	// text and the Client closes s.
	AddPod(ctx context.Context, wl WorkloadInfo, s *PodSockets) error
	// RemovePod stops serving the pod: the listeners are already closed; it
	// closes the pod's connections at once (DelWorkload means the pod is
	// gone, ambient-semantics.md §14) and returns. s's dialers fail after it.
	RemovePod(uid string)
}

// Ports are the in-pod listener ports (ztunnel src/config.rs:688-690).
type Ports struct {
	Outbound         uint16
	Inbound          uint16
	InboundPlaintext uint16
}

// DefaultPorts are 15001, 15008 and 15006.
func DefaultPorts() Ports {
	return Ports{Outbound: 15001, Inbound: 15008, InboundPlaintext: 15006}
}

// Mark is the SO_MARK of ztunnel's own sockets in a pod.
const Mark = sockets.InpodMark
