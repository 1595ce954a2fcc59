package waypoint

import (
	"context"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// Peer is what the HBONE connection says about a request: the TCP source (the
// client pod's IP — ztunnel preserves it), the mTLS peer identity, and the
// original destination (the Service VIP:port from the CONNECT :authority).
// It is the only source of L4 attributes; headers never are.
type Peer struct {
	SourceIP      netip.Addr
	Identity      *policy.Identity // nil: no client certificate
	DestinationIP netip.Addr
	DestPort      uint16
}

type peerKey struct{}

// WithPeer attaches the connection's peer to ctx; the HBONE serving layer does
// this per stream (http.Server.ConnContext).
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFromContext returns the peer set by WithPeer.
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok && p.SourceIP.IsValid()
}
