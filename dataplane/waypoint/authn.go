package waypoint

import (
	"context"
	"net/http"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
)

// authnFilter runs RequestAuthentication. With no authenticator for the
// exchange there is no request principal; a token the authenticator rejects
// is a 401 with Envoy's text (ambient-semantics §8).
func authnFilter(lookup func(*Exchange) *jwtauthn.Authenticator) Filter {
	return func(next Handler) Handler {
		return handlerFunc{name: "jwt_authn", fn: func(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
			if lookup != nil {
				if a := lookup(ex); a != nil {
					res, err := a.Authenticate(ctx, ex.Header, ex.Query)
					if err != nil {
						return &Reject{Status: err.Status(), Body: err.Failure.Text(), Filter: "jwt_authn", Reason: err.Error()}
					}
					ex.Auth = res
				}
			}
			return next.ServeL7(ctx, w, ex)
		}}
	}
}
