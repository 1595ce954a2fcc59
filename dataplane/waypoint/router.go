package waypoint

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

// routing is the router filter's decision, handed to the forwarder through
// the context: where to send the request and how (timeouts, retries), and
// what to do to the response.
type routing struct {
	// Target is the backend VIP:port (or the original destination).
	Target          netip.AddrPort
	Timeout         time.Duration
	Retry           *route.Retry
	ResponseHeaders *route.HeaderModifier
	Rand            route.Random
}

type routingKey struct{}

func routingFrom(ctx context.Context) *routing {
	r, _ := ctx.Value(routingKey{}).(*routing)
	return r
}

// Local-reply bodies (Envoy's texts).
const (
	BodyNoRoute           = "route_not_found" // Envoy answers 404 with an empty body; we name the cause
	BodyNoHealthyUpstream = "no healthy upstream"
	BodyUpstreamTimeout   = "upstream request timeout"
)

// DetailsRouteNotFound etc. live in record.go; these are the router's own.
const (
	detailsAllWeightsZero = "direct_response"
	detailsRedirect       = "direct_response"
)

// routerFilter runs after authorization (Envoy's waypoint chain: jwt_authn →
// rbac → fault → router, istio listener_builder.go), so authorization sees
// the original request and routing changes only what is forwarded. It
// selects the route, injects faults, answers redirects, applies request
// header modifiers and rewrites, and chooses the backend; the forwarder then
// sends with the route's timeouts and retries.
func routerFilter(lookup func(*Exchange) *route.Table, rnd route.Random) Filter {
	if rnd == nil {
		rnd = rand.Float64 // goroutine-safe
	}
	return func(next Handler) Handler {
		return handlerFunc{name: "router", fn: func(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
			var table *route.Table
			if lookup != nil {
				table = lookup(ex)
			}
			orig := netip.AddrPortFrom(ex.Peer.DestinationIP, ex.Peer.DestPort)
			if table == nil || len(table.HTTP) == 0 {
				// No routes: the original destination, istiod's default
				// inbound route (retry reset-before-request ×2, no timeout).
				rt := &routing{Target: orig, Retry: route.DefaultRouteRetry(), Rand: rnd}
				return next.ServeL7(context.WithValue(ctx, routingKey{}, rt), w, ex)
			}
			req := &route.Request{Port: ex.Peer.DestPort, Method: ex.Req.Method, Path: ex.Path, Query: ex.Query, Header: ex.Header}
			r := table.Select(req)
			if r == nil {
				ex.Record.AddFlags(FlagNoRouteFound)
				ex.Record.SetDetails(DetailsRouteNotFound)
				return &Reject{Status: http.StatusNotFound, Body: BodyNoRoute, Filter: "router", Reason: "no route matched"}
			}
			fd := r.Fault.Decide(rnd)
			if err := injectFault(ctx, w, ex, fd); err != nil || (fd.Abort != nil && fd.Abort.GRPCStatus != "") {
				return err // nil: a gRPC abort was written
			}
			if rd := r.Redirect; rd != nil {
				return redirect(w, ex, r, rd)
			}
			be, err := route.PickBackend(r.Backends, rnd)
			if err != nil {
				ex.Record.SetDetails(detailsAllWeightsZero)
				reason := err.Error()
				if be != nil {
					reason += ": " + be.Service
				}
				return &Reject{Status: http.StatusInternalServerError, Body: "", Filter: "router", Reason: r.Name + ": " + reason}
			}
			ns, name, _ := strings.Cut(be.Service, "/")
			ex.Record.SetBackend(Backend{ServiceHostname: be.Hostname, ServiceNamespace: ns, ServiceName: name,
				Port: be.Target(ex.Peer.DestPort).Port()})
			r.RequestHeaders.Apply(ex.Header)
			if rw := r.Rewrite; rw != nil {
				if rw.Hostname != "" {
					ex.Host = rw.Hostname
				}
				if rw.Path != nil {
					hadQuery := len(ex.Target) > len(ex.Path)
					ex.Path = route.RewritePath(rw.Path, r.Match.Path, ex.Path)
					ex.Target = ex.Path
					if hadQuery {
						ex.Target += "?" + ex.Query
					}
				}
			}
			rt := &routing{Target: be.Target(ex.Peer.DestPort), Timeout: r.Timeout.D(), Retry: r.Retry,
				ResponseHeaders: r.ResponseHeaders, Rand: rnd}
			return next.ServeL7(context.WithValue(ctx, routingKey{}, rt), w, ex)
		}}
	}
}

// injectFault delays (DI) and aborts (FI) as Envoy's fault filter does.
func injectFault(ctx context.Context, w http.ResponseWriter, ex *Exchange, d route.FaultDecision) error {
	if d.Delay > 0 {
		ex.Record.AddFlags(FlagDelayInjected)
		t := time.NewTimer(d.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			ex.Record.AddFlags(FlagDownstreamConnectionTermination)
			return &Reject{Status: http.StatusServiceUnavailable, Body: "", Filter: "fault", Reason: "client went away during an injected delay"}
		}
	}
	a := d.Abort
	if a == nil {
		return nil
	}
	ex.Record.AddFlags(FlagFaultInjected)
	ex.Record.SetDetails(DetailsFaultAbort)
	if a.GRPCStatus != "" {
		// A gRPC abort is a trailers-only response: HTTP 200 with grpc-status.
		code, _ := route.GRPCStatusNumber(a.GRPCStatus)
		h := w.Header()
		h.Set("Content-Type", "application/grpc")
		h.Set("Grpc-Status", code)
		h.Set("Grpc-Message", route.FaultAbortBody)
		h.Set("X-Request-Id", ex.RequestID)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return &Reject{Status: a.HTTPStatus, Body: route.FaultAbortBody, Filter: "fault", Reason: "fault injection abort"}
}

// redirect answers with the route's redirect (Envoy direct redirect reply).
func redirect(w http.ResponseWriter, ex *Exchange, r *route.HTTPRoute, rd *route.Redirect) error {
	loc := rd.Location("http", hostWithoutPort(ex.Host), ex.Peer.DestPort, r.Match.Path, ex.Path, ex.Query)
	ex.Record.SetDetails(detailsRedirect)
	h := w.Header()
	h.Set("Location", loc)
	h.Set("X-Request-Id", ex.RequestID)
	r.ResponseHeaders.Apply(h)
	w.WriteHeader(rd.Status())
	return nil
}
