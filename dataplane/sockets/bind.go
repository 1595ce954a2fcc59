package sockets

import (
	"context"
	"net"
	"net/netip"
)

// WithBind makes dials that name no local address bind ip first, so a
// proxy that is not inside a pod's netns can still originate from the pod's
// address (and loopback tests can give each fake pod its own 127.0.0.x).
// Dials with an explicit local address and listeners are unchanged.
func WithBind(f Factory, ip netip.Addr) Factory { return bindFactory{inner: f, ip: ip} }

type bindFactory struct {
	inner Factory
	ip    netip.Addr
}

var _ decorable = bindFactory{}

func (b bindFactory) withControl(name string, c Control, dial, listen bool) Factory {
	return bindFactory{inner: decorate(b.inner, name, c, dial, listen), ip: b.ip}
}

func (b bindFactory) Dial(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	if !laddr.IsValid() {
		laddr = netip.AddrPortFrom(b.ip, 0)
	}
	return b.inner.Dial(ctx, laddr, raddr)
}

func (b bindFactory) Listen(ctx context.Context, laddr netip.AddrPort) (net.Listener, error) {
	return b.inner.Listen(ctx, laddr)
}
