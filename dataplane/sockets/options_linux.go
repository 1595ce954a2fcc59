package sockets

import (
	"golang.org/x/sys/unix"
)

// InpodMark is the SO_MARK ztunnel puts on its own sockets inside a pod
// netns (istio cni/pkg/config InpodMark 1337 = 0x539): the pod's nat rules
// skip marked packets, so the proxy's dials are not captured again, and
// the connmark restore routes replies to spoofed-source dials back to it
// (ambient-semantics.md §2).
const InpodMark = 0x539

// WithMark sets SO_MARK on dialed and listening sockets (needs
// CAP_NET_ADMIN).
func WithMark(f Factory, mark uint32) Factory {
	return decorate(f, "SO_MARK", func(fd uintptr) error {
		return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
	}, true, true)
}

// WithTransparent sets IP_TRANSPARENT and IP_FREEBIND, so a dial may bind a
// non-local source address (the original client IP, ztunnel
// src/proxy/inbound.rs freebind_connect) and a listener may accept traffic
// for non-local destinations (ztunnel src/proxy.rs maybe_set_transparent).
// IP_TRANSPARENT needs CAP_NET_ADMIN; callers fall back to a plain factory
// when it fails (IsPermission).
func WithTransparent(f Factory) Factory {
	return decorate(f, "IP_TRANSPARENT", func(fd uintptr) error {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1); err != nil {
			return err
		}
		return unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
	}, true, true)
}

// WithReusePort sets SO_REUSEPORT on listeners, so a restarting ztunnel can
// bind next to the old one (ambient-semantics.md §14).
func WithReusePort(f Factory) Factory {
	return decorate(f, "SO_REUSEPORT", func(fd uintptr) error {
		return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}, false, true)
}
