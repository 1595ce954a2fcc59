package ztunnel

import (
	"fmt"
	"net/netip"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// RequestKind is how an outbound connection is forwarded.
type RequestKind uint8

const (
	// RequestHBONE: CONNECT over mTLS to Target (a pod's or waypoint's :15008).
	RequestHBONE RequestKind = iota + 1
	// RequestTCP: plain TCP to a mesh workload that does not speak HBONE.
	RequestTCP
	// RequestPassthrough: plain TCP to an out-of-mesh destination.
	RequestPassthrough
	// RequestDeny: refused; the client is reset.
	RequestDeny
)

var requestKindNames = [...]string{RequestHBONE: "HBONE", RequestTCP: "TCP", RequestPassthrough: "Passthrough", RequestDeny: "Deny"}

func (k RequestKind) String() string {
	if k >= RequestHBONE && int(k) < len(requestKindNames) {
		return requestKindNames[k]
	}
	return fmt.Sprintf("RequestKind(%d)", uint8(k))
}

// DenyReason is the closed set of reasons the proxy refuses a connection
// before or instead of forwarding it. String is the stable identifier.
type DenyReason uint8

const (
	DenyIllegalPort DenyReason = iota + 1
	DenyNoHealthyUpstream
	DenyUnknownWaypoint
	DenyRemoteNetwork
	DenyUnknownSource
	DenyWorkloadNotFound
	DenyPolicy
)

var denyReasonNames = [...]string{
	DenyIllegalPort:       "IllegalPort",
	DenyNoHealthyUpstream: "NoHealthyUpstream",
	DenyUnknownWaypoint:   "UnknownWaypoint",
	DenyRemoteNetwork:     "RemoteNetworkUnsupported",
	DenyUnknownSource:     "UnknownSource",
	DenyWorkloadNotFound:  "WorkloadNotFound",
	DenyPolicy:            "PolicyRejection",
}

func (r DenyReason) String() string {
	if r >= DenyIllegalPort && int(r) < len(denyReasonNames) {
		return denyReasonNames[r]
	}
	return fmt.Sprintf("DenyReason(%d)", uint8(r))
}

// Request is Plan's decision for one outbound connection.
type Request struct {
	Kind RequestKind
	// Target is the TCP address to dial: podIP:15008 or a waypoint for
	// HBONE, podIP:port for TCP, the original destination for passthrough.
	Target netip.AddrPort
	// Authority is the CONNECT :authority (HBONE only): podIP:port, or the
	// original VIP:port toward a service waypoint.
	Authority netip.AddrPort
	// DestinationIdentity is the identity the HBONE peer must present.
	DestinationIdentity identity.Identity
	// Destination is the selected workload (nil for passthrough and for
	// service waypoints, where the waypoint selects).
	Destination *workloadapi.Workload
	// Waypoint is set when the connection goes through a waypoint.
	Waypoint *workloadapi.Workload
	// Service and ServicePort are set for Service-addressed connections.
	Service     *workloadapi.Service
	ServicePort uint16
	// SameNode: a direct HBONE destination on the source's node, eligible
	// for the in-process fast path (ambient-semantics §4 step 7).
	SameNode bool
	// OriginalDst is what the application dialled.
	OriginalDst netip.AddrPort
	// Deny is set when Kind is RequestDeny.
	Deny DenyReason
}
