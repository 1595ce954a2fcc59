package ztunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/lifecycle"
	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// PodContext is everything ServePod needs for one captured pod. The caller
// (dataplane/ztunnel/inpod, driven by ZDS) opens the listeners inside the
// pod's network namespace and keeps ownership of the namespace.
type PodContext struct {
	// UID is the pod UID from ZDS AddWorkload; it names the pod's workload
	// in state.
	UID string
	// Name, Namespace and ServiceAccount are ZDS WorkloadInfo, used in logs.
	Name, Namespace, ServiceAccount string
	// Listeners are the pod's capture listeners; a nil one is not served.
	Listeners Listeners
	// Sockets dials from inside the pod's netns with SO_MARK 0x539
	// (sockets.WithMark(sockets.InNetns(...), sockets.InpodMark)), so the
	// proxy's own traffic is not captured again. Inbound dials add
	// sockets.WithTransparent on top to keep the client's source IP.
	Sockets sockets.Factory
}

// Listeners are a pod's three capture listeners (ambient-semantics.md §1).
type Listeners struct {
	Outbound         net.Listener // :15001
	Inbound          net.Listener // :15008, HBONE
	InboundPlaintext net.Listener // :15006
}

// ErrPodServed is returned by ServePod for a UID already being served.
var ErrPodServed = errors.New("ztunnel: pod already served")

// podProxy serves one pod.
type podProxy struct {
	p           *Proxy
	pod         PodContext
	log         *slog.Logger
	dialer      *hbone.Dialer // outbound pool, keyed {src id, dst id, dst IP}
	server      *hbone.Server // inbound :15008
	transparent sockets.Factory
	// noTransparent is set after a source-preserving dial was refused for
	// lack of privilege; later dials go plain at once.
	noTransparent atomic.Bool
	group         *lifecycle.Group
}

// ServePod serves a pod's listeners until ctx ends (DelWorkload: torn down
// at once, connections aborted) or the proxy drains (connections finish
// within the grace period). It closes the listeners and returns nil once
// every goroutine it started has returned.
func (p *Proxy) ServePod(ctx context.Context, pod PodContext) error {
	if pod.UID == "" || pod.Sockets == nil {
		return errors.New("ztunnel: PodContext needs UID and Sockets")
	}
	pp := &podProxy{p: p, pod: pod, log: p.log.With("pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID),
		transparent: sockets.WithTransparent(pod.Sockets)}
	p.mu.Lock()
	if _, dup := p.mu.pods[pod.UID]; dup {
		p.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrPodServed, pod.UID)
	}
	p.mu.pods[pod.UID] = pp
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.mu.pods, pod.UID)
		p.mu.Unlock()
	}()

	pp.group = lifecycle.NewGroup(ctx)
	pp.dialer = &hbone.Dialer{TLSConfig: pp.clientTLS, DialContext: pp.dialHBONE, Limits: p.cfg.HBONELimits, Log: pp.log}
	pp.server = &hbone.Server{Handler: pp.handleInbound, Authority: hbone.AuthorityMatchDst, Limits: p.cfg.HBONELimits, Log: pp.log}
	ls := pod.Listeners
	if ls.Outbound != nil {
		pp.group.Go(func(ctx context.Context) { pp.runAccept(ctx, ls.Outbound, pp.handleOutbound) })
	}
	if ls.InboundPlaintext != nil {
		pp.group.Go(func(ctx context.Context) { pp.runAccept(ctx, ls.InboundPlaintext, pp.handlePassthrough) })
	}
	if ls.Inbound != nil {
		cfg := identity.ServerConfig(p.cfg.Verifier, identity.CertSourceFunc(pp.certificateForIP))
		pp.group.Go(func(ctx context.Context) {
			if err := pp.server.Serve(ctx, ls.Inbound, cfg); err != nil {
				pp.log.Error("inbound HBONE listener failed", "err", err)
			}
		})
	}
	pp.log.Info("serving pod")

	select {
	case <-ctx.Done():
	case <-p.drainer.Draining():
	}
	for _, ln := range []net.Listener{ls.Outbound, ls.Inbound, ls.InboundPlaintext} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if ctx.Err() == nil {
		// Draining: GOAWAY, then wait for streams until forced.
		_ = pp.server.Shutdown(p.forceCtx)
	}
	pp.group.Wait()
	pp.group.Stop()
	_ = pp.dialer.Close()
	pp.log.Info("pod no longer served")
	return nil
}

// runAccept accepts until the listener closes; each connection runs on a
// goroutine owned by the pod's group.
func (pp *podProxy) runAccept(ctx context.Context, ln net.Listener, handle func(context.Context, net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				pp.log.Error("accept failed", "listener", ln.Addr().String(), "err", err)
			}
			return
		}
		pp.group.Go(func(ctx context.Context) { handle(ctx, c) })
	}
}

// connContext is the context of one proxied connection: it ends with the
// pod (DelWorkload) or when the drain is forced.
func (pp *podProxy) connContext(parent context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(pp.p.forceCtx, func() { cancel(errDrainForced) })
	return ctx, func(cause error) { stop(); cancel(cause) }
}

var errDrainForced = errors.New("connection closed: proxy drain deadline passed")

// workload returns the pod's own workload, waiting for lazy loading.
func (pp *podProxy) workload(ctx context.Context) (*workloadapi.Workload, bool) {
	return pp.p.awaitWorkload(ctx, func(s *workloadapi.Snapshot) (*workloadapi.Workload, bool) {
		return s.WorkloadByUID(pp.pod.UID)
	})
}

// certificateForIP is the inbound CertSource: only this pod's own IPs get
// a certificate, and it is the pod's workload identity.
func (pp *podProxy) certificateForIP(ctx context.Context, ip netip.Addr) (*identity.Certificate, error) {
	w, ok := pp.workload(ctx)
	if !ok {
		return nil, fmt.Errorf("workload %s not found", pp.pod.UID)
	}
	if !hasIP(w, ip) {
		return nil, fmt.Errorf("%s is not an address of %s", ip, w.Key())
	}
	return pp.p.cfg.Certificates.Certificate(ctx, w.Identity())
}

func hasIP(w *workloadapi.Workload, ip netip.Addr) bool {
	for _, a := range w.IPs {
		if a == ip.Unmap() {
			return true
		}
	}
	return false
}

// clientTLS builds the outbound HBONE config for a pool key: the source
// pod's SVID, and only the destination identity accepted.
func (pp *podProxy) clientTLS(key hbone.PoolKey) (*tls.Config, error) {
	src, err := identity.Parse(key.SrcIdentity)
	if err != nil {
		return nil, err
	}
	dst, err := identity.Parse(key.DstIdentity)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(pp.group.Context(), pp.p.cfg.ConnectTimeout)
	defer cancel()
	cert, err := pp.p.cfg.Certificates.Certificate(ctx, src)
	if err != nil {
		return nil, err
	}
	return identity.ClientConfig(pp.p.cfg.Verifier, cert, []identity.Identity{dst}), nil
}

// dialHBONE opens the TCP connection under an HBONE tunnel from the pod's
// netns (SO_MARK keeps it from being captured by the pod's own rules).
func (pp *podProxy) dialHBONE(ctx context.Context, _, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	return pp.pod.Sockets.Dial(ctx, netip.AddrPort{}, ap)
}

// dialUpstream dials the local application at dst keeping the client's
// source IP (ztunnel src/proxy/inbound.rs freebind_connect): a transparent
// bind to src, whose replies the pod's connmark rules route back to us. If
// that is not permitted, it dials plainly once and says so, and later dials
// skip the attempt.
func (pp *podProxy) dialUpstream(ctx context.Context, src netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, pp.p.cfg.ConnectTimeout)
	defer cancel()
	if src.IsValid() && !pp.noTransparent.Load() {
		c, err := pp.transparent.Dial(ctx, netip.AddrPortFrom(src, 0), dst)
		if err == nil || !(sockets.IsPermission(err) || errors.Is(err, sockets.ErrNotDecorable)) {
			return c, err
		}
		if pp.noTransparent.CompareAndSwap(false, true) {
			pp.log.Warn("cannot preserve the client source address; dialing the application from the pod's own address",
				"err", err)
		}
	}
	return pp.pod.Sockets.Dial(ctx, netip.AddrPort{}, dst)
}

// resetConn closes c with SO_LINGER 0, so the peer sees RST (ztunnel's
// observed deny for TCP, ambient-semantics.md §6).
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
