package ztunnel

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
)

func netipUnmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// handleOutbound serves one connection the pod's app made, redirected to
// :15001: recover the original destination, Plan, then HBONE, plain TCP
// or passthrough, or a reset for a refusal.
func (pp *podProxy) handleOutbound(ctx context.Context, c net.Conn) {
	src, origDst, release, ok := pp.admitRedirected(c, "outbound connection")
	if !ok {
		return
	}
	defer release()
	info := connInfo{direction: DirectionOutbound, security: SecurityUnknown, srcAddr: src, dstAddr: origDst}
	w, ok := pp.workload(ctx)
	if !ok {
		pp.p.track(info).fail(FlagNone, errors.New("source workload not found (lazy loading timed out)"))
		resetConn(c)
		return
	}
	info.src = w
	req, perr := Plan(pp.p.State(), w, origDst, pp.p.cfg.Picker, pp.p.cfg.HBONEPort)
	info.service, info.dst = req.Service, req.Destination
	if req.Waypoint != nil {
		info.dst = req.Waypoint
	}
	switch req.Kind {
	case RequestDeny:
		flag := FlagConnect
		if req.Deny == DenyIllegalPort {
			flag = FlagDeny
		}
		pp.p.track(info).fail(flag, perr)
		resetConn(c)
	case RequestTCP, RequestPassthrough:
		pp.forwardPlain(ctx, c, info, req)
	case RequestHBONE:
		info.security = SecurityMutualTLS
		info.srcIdentity = identityPtr(w.Identity())
		info.dstAddr, info.hboneAddr = req.Target, req.Authority
		info.dstIdentity = identityPtr(req.DestinationIdentity)
		if req.SameNode && req.Waypoint == nil {
			if dp, ok := pp.p.localPod(req.Destination.UID); ok {
				pp.fastPath(ctx, c, dp, info, req)
				return
			}
		}
		pp.forwardHBONE(ctx, c, info, req)
	}
}

// forwardPlain dials the target from the pod's netns (so the source is the
// pod's own IP) and copies.
func (pp *podProxy) forwardPlain(ctx context.Context, c net.Conn, info connInfo, req Request) {
	info.dstAddr = req.Target
	t := pp.p.track(info)
	connCtx, cancel := pp.connContext(ctx)
	defer cancel(nil)
	dialCtx, dialCancel := context.WithTimeout(connCtx, pp.p.cfg.ConnectTimeout)
	up, err := pp.pod.Sockets.Dial(dialCtx, netip.AddrPort{}, req.Target)
	dialCancel()
	if err != nil {
		t.fail(FlagConnect, err)
		resetConn(c)
		return
	}
	client, _ := halfCloser(c)
	upstream, _ := halfCloser(up)
	pp.p.proxyCopy(connCtx, t, client, upstream)
}

// forwardHBONE opens a CONNECT from the source pod's identity to the
// destination's (pool key {src id, dst id, dst IP}) with
// Forwarded: for="<client ip:port>"[;host=<service>] and copies.
func (pp *podProxy) forwardHBONE(ctx context.Context, c net.Conn, info connInfo, req Request) {
	t := pp.p.track(info)
	connCtx, cancel := pp.connContext(ctx)
	defer cancel(nil)
	host := ""
	if req.Service != nil {
		host = req.Service.Hostname
	}
	stream, err := pp.dialer.Connect(connCtx, hbone.Request{
		Target:    req.Target,
		Authority: req.Authority.String(),
		Key: hbone.PoolKey{SrcIdentity: info.src.Identity().String(), DstIdentity: req.DestinationIdentity.String(),
			DstIP: req.Target.Addr()},
		Header: http.Header{"Forwarded": {hbone.ForwardedFor(info.srcAddr, host)}},
	})
	if err != nil {
		flag := FlagConnect
		var se *hbone.StatusError
		var ve *identity.VerifyError
		switch {
		case errors.As(err, &se) && se.Code == http.StatusUnauthorized:
			flag = FlagDeny
		case errors.As(err, &ve):
			flag = FlagTLSFailure // the peer is not who the state says (H10)
		}
		t.fail(flag, err)
		resetConn(c) // the app sees a reset, not the 401 (ztunnel#691)
		return
	}
	client, _ := halfCloser(c)
	pp.p.proxyCopy(connCtx, t, client, stream)
}

// fastPath turns an outbound connection to a pod this proxy also serves
// into a local inbound one, with the same semantics and no TLS
// (ambient-semantics.md §4 step 7): the source identity is the source
// pod's, which this proxy vouches for; policy, registration and the
// source-preserving dial are the destination pod's, as for HBONE inbound.
// Both reporters are recorded, as two ztunnels would.
func (pp *podProxy) fastPath(ctx context.Context, c net.Conn, dp *podProxy, out connInfo, req Request) {
	in := out
	in.direction = DirectionInbound
	in.dstAddr = req.Authority
	tOut, tIn := pp.p.track(out), pp.p.track(in)
	attrs := policy.Attributes{SourceIP: out.srcAddr.Addr(), Source: policyIdentity(out.src.Identity()),
		DestinationIP: req.Authority.Addr(), DestinationPort: req.Authority.Port()}
	adm, ref := dp.admit(ctx, attrs, req.Destination)
	if ref != nil {
		tIn.fail(ref.flag, ref.err)
		tOut.fail(ref.flag, ref.err)
		resetConn(c)
		return
	}
	defer adm.release()
	client, _ := halfCloser(c)
	up, _ := halfCloser(adm.upstream)
	pp.p.proxyCopy(adm.ctx, tOut, client, up, tIn)
}

// admitRedirected is the common start of a connection that in-pod capture
// redirected to one of the pod's listeners: register it with the drainer
// (refused while draining) and recover its source and original destination.
// On failure the connection has been reset; on success the caller must call
// release when the connection ends.
func (pp *podProxy) admitRedirected(c net.Conn, what string) (src, dst netip.AddrPort, release func(), ok bool) {
	release, ok = pp.p.drainer.Track()
	if !ok {
		release()
		resetConn(c)
		return src, dst, nil, false
	}
	src = addrPortOf(c.RemoteAddr())
	dst, err := pp.p.cfg.OriginalDst(c)
	if err != nil {
		pp.log.Warn(what+" without original destination", "src", src, "err", err)
		release()
		resetConn(c)
		return src, dst, nil, false
	}
	return src, netipUnmap(dst), release, true
}
