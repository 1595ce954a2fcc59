package waypoint

import (
	"context"
	"net/netip"
	"strings"
	"sync"
)

// ResponseFlags is the set of Envoy response flags (%RESPONSE_FLAGS%) one
// request earned. Only the flags this waypoint can produce exist; their bit
// order follows Envoy's enum (envoy/stream_info/stream_info.h ResponseFlag,
// source/common/stream_info/utility.cc), so several flags print in the order
// Envoy prints them.
type ResponseFlags uint32

const (
	// FlagNoHealthyUpstream "UH": the backend has no healthy endpoint.
	FlagNoHealthyUpstream ResponseFlags = 1 << iota
	// FlagUpstreamRequestTimeout "UT": the route timeout expired (504).
	FlagUpstreamRequestTimeout
	// FlagUpstreamRemoteReset "UR": the upstream reset the stream.
	FlagUpstreamRemoteReset
	// FlagUpstreamConnectionFailure "UF": connecting (HBONE) to the endpoint failed.
	FlagUpstreamConnectionFailure
	// FlagUpstreamConnectionTermination "UC": the upstream connection closed mid-request.
	FlagUpstreamConnectionTermination
	// FlagNoRouteFound "NR": no route (HTTPRoute rule / backend) matched (404).
	FlagNoRouteFound
	// FlagDelayInjected "DI": a fault-injection delay was applied.
	FlagDelayInjected
	// FlagFaultInjected "FI": a fault-injection abort answered the request.
	FlagFaultInjected
	// FlagDownstreamConnectionTermination "DC": the client went away before the response completed.
	FlagDownstreamConnectionTermination
	// FlagUpstreamRetryLimitExceeded "URX": every retry attempt failed.
	FlagUpstreamRetryLimitExceeded
	// FlagDownstreamProtocolError "DPE": the request was malformed HTTP.
	FlagDownstreamProtocolError
	flagEnd
)

// flagShort are Envoy's short strings (ResponseFlagUtils), index = bit.
var flagShort = [...]string{"UH", "UT", "UR", "UF", "UC", "NR", "DI", "FI", "DC", "URX", "DPE"}

// String renders the flags as Envoy does: "-" for none, else the short
// strings joined by ",". Istio's response_flags label uses the same text.
func (f ResponseFlags) String() string {
	if f == 0 {
		return "-"
	}
	var b strings.Builder
	for i, s := range flagShort {
		if f&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	if f&^(flagEnd-1) != 0 { // a bit outside the table: never silently dropped
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString("?")
	}
	return b.String()
}

// Response code details (%RESPONSE_CODE_DETAILS%), as Envoy writes them
// (envoy/stream_info/stream_info.h ResponseCodeDetailValues, router filter).
const (
	DetailsViaUpstream       = "via_upstream"
	DetailsRouteNotFound     = "route_not_found"
	DetailsNoHealthyUpstream = "no_healthy_upstream"
	DetailsResponseTimeout   = "response_timeout"
	DetailsConnectionFailure = "upstream_reset_before_response_started{connection_failure}"
	DetailsRemoteReset       = "upstream_reset_before_response_started{remote_reset}"
	DetailsFaultAbort        = "fault_filter_abort"
	DetailsDirectResponse    = "direct_response"
	DetailsDownstreamReset   = "downstream_remote_disconnect"
	// DetailsCodecError is the codec's refusal of a malformed request
	// (Envoy: "http1.codec_error" and siblings; we do not distinguish them).
	DetailsCodecError = "http1.codec_error"
)

// RBACDeniedDetails is Envoy's RBAC filter detail
// (source/extensions/filters/common/rbac/utility.cc responseDetail):
// "rbac_access_denied_matched_policy[<policy id>]", "[none]" when an ALLOW
// policy existed but nothing matched. Istio names policies
// "ns[<ns>]-policy[<name>]-rule[<i>]"; policy.Verdict does not keep the rule
// index, so ours ends at the policy: "ns[<ns>]-policy[<name>]".
// policyKey is policy.Verdict.Policy ("<ns>/<name>"), empty for none.
func RBACDeniedDetails(policyKey string) string {
	if policyKey == "" {
		return "rbac_access_denied_matched_policy[none]"
	}
	id := policyKey
	if ns, name, ok := strings.Cut(policyKey, "/"); ok {
		id = "ns[" + ns + "]-policy[" + name + "]"
	}
	return "rbac_access_denied_matched_policy[" + noSpaces(id) + "]"
}

// JWTDeniedDetails is Envoy's jwt_authn filter detail:
// "jwt_authn_access_denied{<status message with spaces as _>}".
func JWTDeniedDetails(message string) string {
	return "jwt_authn_access_denied{" + noSpaces(message) + "}"
}

// noSpaces replaces whitespace with '_' as Envoy does, so access log fields
// never split.
func noSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			return '_'
		}
		return r
	}, s)
}

// Backend is the destination a request was routed to: the Service (or, for
// workload-addressed traffic, no Service) and the port on it. It drives the
// destination_service* labels.
type Backend struct {
	// ServiceHostname is the Service FQDN ("reviews.apps.svc.cluster.local");
	// empty when the request addressed a workload directly.
	ServiceHostname  string
	ServiceNamespace string
	ServiceName      string
	Port             uint16
}

// Record is what happened to one request, written by the filters, the
// router and the upstream transport, and read by telemetry once the handler
// has returned. The zero value is ready; it is safe for concurrent use
// (an upstream transport may report from its own goroutine).
type Record struct {
	mu                sync.Mutex
	flags             ResponseFlags
	details           string
	backend           Backend
	hasBackend        bool
	upstreamHost      netip.AddrPort
	upstreamPrincipal string
	requestID         string
}

// RecordView is an immutable copy of a Record.
type RecordView struct {
	Flags   ResponseFlags
	Details string // "" when nobody set one
	// Backend is valid only when HasBackend.
	Backend    Backend
	HasBackend bool
	// UpstreamHost is the endpoint actually dialled (pod IP:target port);
	// invalid when no connection was attempted.
	UpstreamHost netip.AddrPort
	// UpstreamPrincipal is the endpoint's verified SPIFFE ID ("spiffe://...").
	UpstreamPrincipal string
	RequestID         string
}

// AddFlags adds response flags (flags accumulate, as in Envoy).
func (r *Record) AddFlags(f ResponseFlags) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.flags |= f
	r.mu.Unlock()
}

// SetDetails sets the response code details; the last writer wins, since the
// component that finally produced the response knows best.
func (r *Record) SetDetails(details string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.details = details
	r.mu.Unlock()
}

// SetBackend records the routing decision.
func (r *Record) SetBackend(b Backend) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.backend, r.hasBackend = b, true
	r.mu.Unlock()
}

// SetUpstream records the endpoint chosen for the request and, once the
// HBONE handshake verified it, its SPIFFE ID (empty if not verified).
func (r *Record) SetUpstream(host netip.AddrPort, principal string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.upstreamHost, r.upstreamPrincipal = host, principal
	r.mu.Unlock()
}

// SetRequestID records the x-request-id the waypoint used.
func (r *Record) SetRequestID(id string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.requestID = id
	r.mu.Unlock()
}

// View copies the record.
func (r *Record) View() RecordView {
	if r == nil {
		return RecordView{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return RecordView{Flags: r.flags, Details: r.details, Backend: r.backend, HasBackend: r.hasBackend,
		UpstreamHost: r.upstreamHost, UpstreamPrincipal: r.upstreamPrincipal, RequestID: r.requestID}
}

// noteReject fills in flags and details for a rejection whose filter did not
// record them itself: a best default per filter, never overriding.
func (r *Record) noteReject(rej *Reject) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.details != "" {
		return
	}
	switch {
	case rej.Filter == "rbac":
		r.details = RBACDeniedDetails("")
	case rej.Filter == "jwt_authn":
		r.details = JWTDeniedDetails(rej.Body)
	case rej.Status == 400:
		r.details = DetailsCodecError
		r.flags |= FlagDownstreamProtocolError
	case rej.Filter == "forward" && rej.Status == 503:
		r.details = DetailsConnectionFailure
		if r.flags == 0 {
			r.flags |= FlagUpstreamConnectionFailure
		}
	default:
		r.details = noSpaces(rej.Filter + "_rejected")
	}
}

type recordKey struct{}

// WithRecord attaches rec to ctx. Telemetry does this before calling the
// Waypoint so it can read the record afterwards; the upstream transport finds
// it with RecordFromContext on the outbound request's context.
func WithRecord(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// RecordFromContext returns the record attached by WithRecord, or nil.
func RecordFromContext(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// ensureRecord returns ctx's record, attaching a fresh one when there is
// none, so filters can always write to Exchange.Record.
func ensureRecord(ctx context.Context) (context.Context, *Record) {
	if rec := RecordFromContext(ctx); rec != nil {
		return ctx, rec
	}
	rec := &Record{}
	return WithRecord(ctx, rec), rec
}

// setDetailsIfEmpty sets details unless a component already did.
func (r *Record) setDetailsIfEmpty(details string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.details == "" {
		r.details = details
	}
	r.mu.Unlock()
}
