package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Factory creates the TCP sockets a proxy dials and listens with. It is
// ztunnel's SocketFactory seam (src/proxy.rs, DefaultSocketFactory →
// MarkSocketFactory → InPodSocketFactory): the proxy never sets socket
// options or enters a network namespace itself; decorators do.
//
// Decorators (WithMark, WithTransparent, WithReusePort, InNetns) compose
// only over factories from this package, which expose the unexported
// decorable capability; wrapping a foreign Factory returns one whose calls
// fail with ErrNotDecorable.
type Factory interface {
	// Dial connects to raddr. A valid laddr binds the local address first
	// (port 0 lets the kernel choose the port).
	Dial(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error)
	// Listen opens a TCP listener on laddr.
	Listen(ctx context.Context, laddr netip.AddrPort) (net.Listener, error)
}

// ErrNotDecorable is returned by decorated factories built over a Factory
// that is not from this package.
var ErrNotDecorable = errors.New("sockets: factory does not accept socket options")

// Control sets options on a raw socket between socket(2) and bind(2) or
// connect(2); see net.Dialer.Control.
type Control func(fd uintptr) error

// decorable is implemented by this package's factories: it returns a copy
// whose sockets also get c (listen selects listening sockets only).
type decorable interface {
	withControl(name string, c Control, dial, listen bool) Factory
}

// Default returns a factory with no special options.
func Default() Factory { return base{} }

type control struct {
	name         string
	fn           Control
	dial, listen bool
}

// base applies its controls in the order they were added.
type base struct{ controls []control }

var _ decorable = base{}

func (b base) withControl(name string, c Control, dial, listen bool) Factory {
	cs := make([]control, len(b.controls), len(b.controls)+1)
	copy(cs, b.controls)
	return base{controls: append(cs, control{name: name, fn: c, dial: dial, listen: listen})}
}

func (b base) controlFunc(listening bool) func(network, address string, c syscall.RawConn) error {
	if len(b.controls) == 0 {
		return nil
	}
	return func(_, _ string, rc syscall.RawConn) error {
		for _, ctl := range b.controls {
			if (listening && !ctl.listen) || (!listening && !ctl.dial) {
				continue
			}
			var opErr error
			if err := rc.Control(func(fd uintptr) { opErr = ctl.fn(fd) }); err != nil {
				return err
			}
			if opErr != nil {
				return fmt.Errorf("sockets: %s: %w", ctl.name, opErr)
			}
		}
		return nil
	}
}

func (b base) Dial(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Control: b.controlFunc(false)}
	if laddr.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(laddr)
	}
	return d.DialContext(ctx, "tcp", raddr.String())
}

func (b base) Listen(ctx context.Context, laddr netip.AddrPort) (net.Listener, error) {
	lc := net.ListenConfig{Control: b.controlFunc(true)}
	return lc.Listen(ctx, "tcp", laddr.String())
}

// decorate adds a control to f, or returns a failing factory when f is
// foreign.
func decorate(f Factory, name string, c Control, dial, listen bool) Factory {
	if d, ok := f.(decorable); ok {
		return d.withControl(name, c, dial, listen)
	}
	return failing{fmt.Errorf("%w: %T (adding %s)", ErrNotDecorable, f, name)}
}

type failing struct{ err error }

func (f failing) Dial(context.Context, netip.AddrPort, netip.AddrPort) (net.Conn, error) {
	return nil, f.err
}
func (f failing) Listen(context.Context, netip.AddrPort) (net.Listener, error) { return nil, f.err }
