package waypoint

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
)

// Handler is one stage of the L7 chain (coredns plugin.Handler's shape).
type Handler interface {
	// ServeL7 handles the exchange; a rejection is returned as *Reject and
	// written by the Waypoint, never by the filter.
	ServeL7(ctx context.Context, w http.ResponseWriter, ex *Exchange) error
	// Name identifies the filter in logs and errors.
	Name() string
}

// Filter wraps the next handler (coredns plugin.Plugin).
type Filter func(next Handler) Handler

// Chain applies filters so that the first one runs first.
func Chain(last Handler, filters ...Filter) Handler {
	h := last
	for i := len(filters) - 1; i >= 0; i-- {
		h = filters[i](h)
	}
	return h
}

// handlerFunc adapts a function and a name to Handler.
type handlerFunc struct {
	name string
	fn   func(ctx context.Context, w http.ResponseWriter, ex *Exchange) error
}

func (h handlerFunc) ServeL7(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
	return h.fn(ctx, w, ex)
}
func (h handlerFunc) Name() string { return h.name }

// Exchange is the request as the chain sees it. The validate filter fills
// Host, Target, Path, Query and Header; later filters read only these, never
// the raw request fields, so what is authorized is what is forwarded.
type Exchange struct {
	// Req is the incoming request; its body is untouched until forwarding.
	Req  *http.Request
	Peer Peer
	// Host is the one authority used for authz and routing, lower-cased.
	Host string
	// Target is the normalized "path?query" that is forwarded.
	Target string
	// Path is Target without the query: what `paths` match.
	Path  string
	Query string
	// Header is the outbound header set: validated, hop-by-hop and internal
	// headers removed, JWT outputs applied.
	Header    http.Header
	Auth      jwtauthn.Result
	RequestID string
	// Record collects what happened (response flags, details, backend,
	// upstream host) for telemetry; never nil inside the chain.
	Record *Record
}

// Reject is a filter's refusal. Body is sent as text/plain.
type Reject struct {
	Status int
	Body   string
	Filter string
	// Reason is for logs (never sent to the client).
	Reason string
}

func (r *Reject) Error() string {
	return fmt.Sprintf("waypoint/%s: %d %s: %s", r.Filter, r.Status, r.Body, r.Reason)
}

// Response bodies shared with upstream.
const (
	// BodyRBACDenied is Envoy's RBAC filter body (ambient-semantics §6).
	BodyRBACDenied = "RBAC: access denied"
	// BodyBadRequest is what Envoy's codec answers for malformed requests.
	BodyBadRequest = "Bad Request"
	// BodyUpstreamFailure is Envoy's local reply before upstream headers.
	BodyUpstreamFailure = "upstream connect error or disconnect/reset before headers"
)

func badRequest(filter, reason string) *Reject {
	return &Reject{Status: http.StatusBadRequest, Body: BodyBadRequest, Filter: filter, Reason: reason}
}
