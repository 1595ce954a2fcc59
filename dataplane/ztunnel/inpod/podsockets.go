package inpod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// podFactories are ztunnel's in-pod socket factory stack
// (src/inpod/config.rs: InPodSocketFactory over MarkSocketFactory, with
// InPodSocketPortReuseFactory for listeners), over one pod's namespace.
type podFactories struct {
	listen            sockets.Factory // in netns, SO_MARK, SO_REUSEPORT
	listenTransparent sockets.Factory // + IP_TRANSPARENT
	dial              sockets.Factory // in netns, SO_MARK
	dialTransparent   sockets.Factory // + IP_TRANSPARENT / IP_FREEBIND
}

func newPodFactories(pn *podNetns, mark uint32) podFactories {
	marked := sockets.WithMark(sockets.InNetns(sockets.Default(), pn.netns), mark)
	listen := sockets.WithReusePort(marked)
	return podFactories{
		listen:            listen,
		listenTransparent: sockets.WithTransparent(listen),
		dial:              marked,
		dialTransparent:   sockets.WithTransparent(marked),
	}
}

// openPodSockets opens the pod's three listeners and builds its dialers.
// On error nothing stays open.
func openPodSockets(ctx context.Context, pn *podNetns, cfg *Config, log *slog.Logger) (*PodSockets, error) {
	if _, ok := pn.acquire(); !ok {
		return nil, ErrPodRemoved
	}
	defer pn.release()
	f := newPodFactories(pn, cfg.Mark)
	s := &PodSockets{NetnsInode: pn.inode, Factory: f.dial}
	var errs []error
	for _, l := range []struct {
		dst  *net.Listener
		port uint16
		name string
	}{
		{&s.Outbound, cfg.Ports.Outbound, "outbound"},
		{&s.Inbound, cfg.Ports.Inbound, "inbound"},
		{&s.InboundPlaintext, cfg.Ports.InboundPlaintext, "inbound plaintext"},
	} {
		ln, err := listenMaybeTransparent(ctx, f, netip.AddrPortFrom(cfg.ListenAddr, l.port), log)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s listener on %d: %w", l.name, l.port, err))
			continue
		}
		*l.dst = ln
	}
	if err := errors.Join(errs...); err != nil {
		closeListeners(s)
		return nil, fmt.Errorf("inpod: opening listeners in netns %d: %w", pn.inode, err)
	}
	s.Dial = func(ctx context.Context, raddr netip.AddrPort) (net.Conn, error) {
		if _, ok := pn.acquire(); !ok {
			return nil, ErrPodRemoved
		}
		defer pn.release()
		return f.dial.Dial(ctx, netip.AddrPort{}, raddr)
	}
	s.DialTransparent = func(ctx context.Context, src, raddr netip.AddrPort) (net.Conn, error) {
		if _, ok := pn.acquire(); !ok {
			return nil, ErrPodRemoved
		}
		defer pn.release()
		return f.dialTransparent.Dial(ctx, src, raddr)
	}
	return s, nil
}

// listenMaybeTransparent sets IP_TRANSPARENT when it can: ztunnel's
// maybe_set_transparent (src/proxy.rs) treats it as best effort unless
// original-source is forced, and REDIRECT capture works without it.
func listenMaybeTransparent(ctx context.Context, f podFactories, addr netip.AddrPort, log *slog.Logger) (net.Listener, error) {
	ln, err := f.listenTransparent.Listen(ctx, addr)
	if err == nil || !sockets.IsPermission(err) {
		return ln, err
	}
	log.Debug("IP_TRANSPARENT refused; listening without it", "addr", addr, "error", err)
	return f.listen.Listen(ctx, addr)
}

func closeListeners(s *PodSockets) {
	for _, l := range []net.Listener{s.Outbound, s.Inbound, s.InboundPlaintext} {
		if l != nil {
			l.Close()
		}
	}
}
