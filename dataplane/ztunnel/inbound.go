package ztunnel

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// handleInbound serves one CONNECT on the pod's :15008 (ztunnel
// src/proxy/inbound.rs, ambient-semantics.md §3.1). Steps 1-4 (mTLS with the
// certificate of the destination IP, CONNECT, authority, authority IP ==
// connection destination → 400 "ip mismatch") are done by identity and
// hbone before this runs. Here: self-call ports (400), the local workload
// (503 "workload not found"), registration then RBAC (401 with the reason),
// the upstream dial keeping the client IP (503), then 200 and the copy.
func (pp *podProxy) handleInbound(ctx context.Context, ss *hbone.ServerStream) {
	release, ok := pp.p.drainer.Track()
	defer release()
	if !ok {
		_ = ss.Reject(http.StatusServiceUnavailable, "proxy draining")
		return
	}
	dst := ss.Authority().AddrPort()
	src := addrPortOf(ss.RemoteAddr())
	// ServerConfig refused the handshake unless the Verifier accepted the
	// peer, so this only reads the SAN. The source IP is the TCP peer's;
	// HBONE headers (Forwarded...) are untrusted and never used (Z5).
	peer, err := identity.PeerIdentity(ss.ConnectionState())
	if err != nil {
		_ = ss.Reject(http.StatusUnauthorized, err.Error())
		return
	}
	st := pp.p.State()
	info := connInfo{direction: DirectionInbound, security: SecurityMutualTLS, srcAddr: src,
		srcIdentity: &peer, dstAddr: dst, hboneAddr: dst}
	if w, ok := st.WorkloadByIP(src.Addr()); ok {
		info.src = w
	}
	if IsIllegalPort(dst.Port()) {
		pp.p.track(info).fail(FlagNone, fmt.Errorf("%w: %d", ErrIllegalPort, dst.Port()))
		_ = ss.Reject(http.StatusBadRequest, ErrIllegalPort.Error())
		return
	}
	w, ok := pp.localWorkload(st, dst.Addr())
	if !ok {
		pp.p.track(info).fail(FlagNone, ErrWorkloadNotFound)
		_ = ss.Reject(http.StatusServiceUnavailable, ErrWorkloadNotFound.Error())
		return
	}
	info.dst, info.dstIdentity = w, identityPtr(w.Identity())
	t := pp.p.track(info)
	attrs := policy.Attributes{SourceIP: src.Addr(), Source: policyIdentity(peer),
		DestinationIP: dst.Addr(), DestinationPort: dst.Port()}
	adm, ref := pp.admit(ctx, attrs, w)
	if ref != nil {
		t.fail(ref.flag, ref.err)
		_ = ss.Reject(ref.status, ref.err.Error())
		return
	}
	defer adm.release()
	stream, err := ss.Accept()
	if err != nil {
		resetConn(adm.upstream)
		t.fail(FlagConnect, err)
		return
	}
	up, _ := halfCloser(adm.upstream)
	pp.p.proxyCopy(adm.ctx, t, stream, up)
}
