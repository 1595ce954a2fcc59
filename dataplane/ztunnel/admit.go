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
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// PolicyRejectionError is why an inbound connection was refused by
// AuthorizationPolicy; the text follows ztunnel's
// Error::AuthorizationPolicyRejection and carries the evaluator's reason
// ("allow policies exist, but none allowed", "explicitly denied by: ns/name").
type PolicyRejectionError struct{ Verdict policy.Verdict }

func (e *PolicyRejectionError) Error() string {
	return "connection closed due to policy rejection: " + e.Verdict.Text()
}

// Errors for inbound refusals that are not policy decisions.
var (
	// ErrWorkloadNotFound: the destination is not a workload of this pod
	// (ztunnel logs "workload not found"; 503).
	ErrWorkloadNotFound = errors.New("workload not found")
	// ErrIllegalPort: the destination is one of the proxy's own ports.
	ErrIllegalPort = errors.New("destination port is a ztunnel port (self-call)")
)

// refusal is a failed admission: the HTTP status for an HBONE peer, the
// metrics flag and the error for the access log.
type refusal struct {
	status int
	flag   ResponseFlag
	err    error
}

// admission is an authorized inbound connection whose upstream is dialled.
type admission struct {
	// ctx ends on a policy change that denies the connection, pod removal
	// or a forced drain; context.Cause says which.
	ctx        context.Context
	cancel     context.CancelCauseFunc
	unregister func()
	upstream   net.Conn
}

func (a *admission) release() {
	a.unregister()
	a.cancel(nil)
}

// admit is inbound steps 6-7, shared by HBONE inbound, plaintext inbound and
// the same-node fast path: register with the connection manager, decide
// with the current state, then dial the application keeping the client IP.
func (pp *podProxy) admit(ctx context.Context, attrs policy.Attributes, w *workloadapi.Workload) (*admission, *refusal) {
	connCtx, cancel := pp.connContext(ctx)
	unregister := pp.p.conns.register(&trackedConn{attrs: attrs, dstUID: w.UID, close: cancel})
	st := pp.p.State()
	if cur, ok := st.WorkloadByUID(w.UID); ok {
		w = cur
	}
	if d := decide(st, w, &attrs); !d.Allowed {
		unregister()
		cancel(nil)
		return nil, &refusal{status: http.StatusUnauthorized, flag: FlagDeny, err: &PolicyRejectionError{Verdict: d.Verdict}}
	}
	up, err := pp.dialUpstream(connCtx, attrs.SourceIP, netip.AddrPortFrom(attrs.DestinationIP, attrs.DestinationPort))
	if err != nil {
		unregister()
		cancel(nil)
		return nil, &refusal{status: http.StatusServiceUnavailable, flag: FlagConnect, err: err}
	}
	return &admission{ctx: connCtx, cancel: cancel, unregister: unregister, upstream: up}, nil
}

// localWorkload returns this pod's workload if it owns ip (no waiting:
// inbound traffic has already passed a TLS handshake that needed it).
func (pp *podProxy) localWorkload(st *workloadapi.Snapshot, ip netip.Addr) (*workloadapi.Workload, bool) {
	w, ok := st.WorkloadByIP(ip)
	if !ok || w.UID != pp.pod.UID {
		return nil, false
	}
	return w, true
}

// proxyCopy copies both ways and reports the connection; when it ended
// with an error, the error names why ctx ended (policy change, forced
// drain) if it did.
func (p *Proxy) proxyCopy(ctx context.Context, t *connTracker, client, upstream hbone.HalfCloser, more ...*connTracker) {
	cToS, sToC, err := hbone.Copy(ctx, client, upstream)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		} else if p.forceCtx.Err() != nil {
			// The parent (an HBONE stream) went first, closed by the
			// same forced drain.
			err = errDrainForced
		}
	}
	for _, tr := range append([]*connTracker{t}, more...) {
		tr.complete(cToS, sToC, FlagNone, err)
	}
}

func policyIdentity(id identity.Identity) *policy.Identity {
	return policy.NewIdentity(id.TrustDomain, id.Namespace, id.ServiceAccount)
}

// halfCloser returns c as a HalfCloser; a conn without CloseWrite (a
// wrapped listener's) gets a no-op one, so that direction simply ends when
// the connection closes.
func halfCloser(c net.Conn) (hbone.HalfCloser, bool) {
	if h, ok := c.(hbone.HalfCloser); ok {
		return h, true
	}
	return noHalfClose{c}, false
}

type noHalfClose struct{ net.Conn }

func (noHalfClose) CloseWrite() error { return nil }
