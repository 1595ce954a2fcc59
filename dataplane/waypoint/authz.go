package waypoint

import (
	"context"
	"net/http"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// authzFilter evaluates the applicable policies with the shared engine. It
// runs before the body is read (W8), on the normalized path and the cleaned
// headers, i.e. on exactly what will be forwarded.
func authzFilter(lookup func(*Exchange) []*policy.Policy) Filter {
	return func(next Handler) Handler {
		return handlerFunc{name: "rbac", fn: func(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
			var ps []*policy.Policy
			if lookup != nil {
				ps = lookup(ex)
			}
			d := policy.Evaluate(ps, Attributes(ex))
			if !d.Allowed {
				ex.Record.SetDetails(RBACDeniedDetails(d.Policy))
				return &Reject{Status: http.StatusForbidden, Body: BodyRBACDenied, Filter: "rbac", Reason: d.Text()}
			}
			return next.ServeL7(ctx, w, ex)
		}}
	}
}

// Attributes builds the policy input for an exchange: L4 from the Peer, L7
// from the validated request, derived attributes from the JWT. Each header
// value stays a separate value (W5).
func Attributes(ex *Exchange) *policy.Attributes {
	h := make(map[string][]string, len(ex.Header)+4)
	for name, vals := range ex.Header {
		if !policy.IsDerivedAttribute(name) {
			h[name] = vals
		}
	}
	h[policy.AttrAuthorityHost] = []string{hostWithoutPort(ex.Host)}
	if ex.Auth.Principal != "" {
		for k, v := range policy.ClaimValues(ex.Auth.Claims) {
			h[k] = v
		}
		h[policy.AttrRequestAudiences] = ex.Auth.Audiences
		if ex.Auth.Presenter != "" {
			h[policy.AttrRequestPresenter] = []string{ex.Auth.Presenter}
		}
	}
	return &policy.Attributes{
		SourceIP:        ex.Peer.SourceIP,
		Source:          ex.Peer.Identity,
		DestinationIP:   ex.Peer.DestinationIP,
		DestinationPort: ex.Peer.DestPort,
		Request: &policy.Request{
			Host:             ex.Host,
			Method:           ex.Req.Method,
			Path:             ex.Path,
			RequestPrincipal: ex.Auth.Principal,
			Headers:          h,
		},
	}
}
