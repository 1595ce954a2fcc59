package sockets

import (
	"context"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
)

// InNetns creates f's sockets inside the network namespace netns (a pod's),
// as ztunnel's InPodSocketFactory does. Only socket creation (and the
// connect or listen that follows it) runs on a thread switched into the
// namespace, via ns.Do, which locks the OS thread and never returns a thread
// whose restore failed to the scheduler. The returned sockets are then used
// from ordinary goroutines. The caller keeps ownership of netns.
func InNetns(f Factory, netns ns.NetNS) Factory {
	return netnsFactory{inner: f, netns: netns}
}

type netnsFactory struct {
	inner Factory
	netns ns.NetNS
}

var _ decorable = netnsFactory{}

// withControl pushes options down so InNetns(WithMark(f)) and
// WithMark(InNetns(f)) are equivalent.
func (n netnsFactory) withControl(name string, c Control, dial, listen bool) Factory {
	return netnsFactory{inner: decorate(n.inner, name, c, dial, listen), netns: n.netns}
}

func (n netnsFactory) Dial(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := n.netns.Do(func(ns.NetNS) error {
		var err error
		c, err = n.inner.Dial(ctx, laddr, raddr)
		return err
	})
	return c, err
}

func (n netnsFactory) Listen(ctx context.Context, laddr netip.AddrPort) (net.Listener, error) {
	var l net.Listener
	err := n.netns.Do(func(ns.NetNS) error {
		var err error
		l, err = n.inner.Listen(ctx, laddr)
		return err
	})
	return l, err
}
