package ztunnel

import (
	"context"
	"fmt"
	"net"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// handlePassthrough serves plaintext arriving on the pod's :15006 (ztunnel
// src/proxy/inbound_passthrough.rs): there is no peer identity, so any
// principal or namespace matcher fails, and PeerAuthentication STRICT (sent
// as a DENY `notPrincipals: [presence]` policy, with portLevelMtls
// exemptions as notDestinationPorts) rejects it. A refusal resets the
// client (SO_LINGER 0), as ztunnel does (reliability Z1).
func (pp *podProxy) handlePassthrough(ctx context.Context, c net.Conn) {
	src, dst, release, ok := pp.admitRedirected(c, "plaintext inbound")
	if !ok {
		return
	}
	defer release()
	st := pp.p.State()
	info := connInfo{direction: DirectionInbound, security: SecurityUnknown, srcAddr: src, dstAddr: dst}
	if w, ok := st.WorkloadByIP(src.Addr()); ok {
		info.src = w
	}
	if IsIllegalPort(dst.Port()) {
		pp.p.track(info).fail(FlagNone, fmt.Errorf("%w: %d", ErrIllegalPort, dst.Port()))
		resetConn(c)
		return
	}
	w, ok := pp.localWorkload(st, dst.Addr())
	if !ok {
		pp.p.track(info).fail(FlagNone, ErrWorkloadNotFound)
		resetConn(c)
		return
	}
	info.dst, info.dstIdentity = w, identityPtr(w.Identity())
	t := pp.p.track(info)
	attrs := policy.Attributes{SourceIP: src.Addr(), DestinationIP: dst.Addr(), DestinationPort: dst.Port()}
	adm, ref := pp.admit(ctx, attrs, w)
	if ref != nil {
		t.fail(ref.flag, ref.err)
		resetConn(c)
		return
	}
	defer adm.release()
	client, _ := halfCloser(c)
	up, _ := halfCloser(adm.upstream)
	pp.p.proxyCopy(adm.ctx, t, client, up)
}
