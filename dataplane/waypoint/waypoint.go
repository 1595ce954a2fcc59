package waypoint

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

// Config builds a Waypoint.
type Config struct {
	// Normalization is meshConfig.pathNormalization; required (pathnorm.ModeBase
	// is Istio's default).
	Normalization pathnorm.Mode
	// Policies returns the AuthorizationPolicies that apply to the exchange
	// (targetRefs policies for its Gateway, GatewayClass and Service). A nil
	// entry denies (policy divergence Z10).
	Policies func(*Exchange) []*policy.Policy
	// Authenticator returns the RequestAuthentication for the exchange, or nil.
	Authenticator func(*Exchange) *jwtauthn.Authenticator
	// Routes returns the routing of the exchange's destination Service
	// (config.Service.Routing); nil routes to the original destination.
	Routes func(*Exchange) *route.Table
	// Rand draws weighted backends and fault percentages; nil means
	// math/rand/v2 (tests inject a seeded source).
	Rand route.Random
	// Upstream carries authorized requests; URL.Host is the chosen backend
	// VIP:port (see forward.go).
	Upstream http.RoundTripper
	Logger   *slog.Logger
	// NewRequestID generates x-request-id values; nil means random UUIDv4.
	NewRequestID func() string
}

// Waypoint is the L7 request engine as an http.Handler.
type Waypoint struct {
	chain  Handler
	logger *slog.Logger
	newID  func() string
}

// New validates cfg and assembles the chain.
func New(cfg Config) (*Waypoint, error) {
	if !cfg.Normalization.Valid() {
		return nil, errors.New("waypoint: Normalization must be set")
	}
	if cfg.Upstream == nil {
		return nil, errors.New("waypoint: Upstream is required")
	}
	w := &Waypoint{logger: cfg.Logger, newID: cfg.NewRequestID}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if w.newID == nil {
		w.newID = uuid4
	}
	w.chain = Chain(&forwarder{upstream: cfg.Upstream},
		validateFilter(cfg.Normalization),
		stripFilter(),
		authnFilter(cfg.Authenticator),
		authzFilter(cfg.Policies),
		routerFilter(cfg.Routes, cfg.Rand),
	)
	return w, nil
}

// ServeHTTP runs the chain. A request without a Peer (no HBONE connection
// information) is refused: the engine never guesses an identity.
func (w *Waypoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	peer, ok := PeerFromContext(r.Context())
	ctx, rec := ensureRecord(r.Context())
	ex := &Exchange{Req: r, Peer: peer, RequestID: requestID(r, w.newID), Record: rec}
	rec.SetRequestID(ex.RequestID)
	var err error
	if !ok {
		err = &Reject{Status: http.StatusInternalServerError, Body: "missing connection peer", Filter: "waypoint", Reason: "no Peer in context"}
	} else {
		err = w.chain.ServeL7(ctx, rw, ex)
	}
	var rej *Reject
	switch {
	case err == nil:
		rec.setDetailsIfEmpty(DetailsViaUpstream)
		return
	case errors.As(err, &rej):
	default:
		rej = &Reject{Status: http.StatusInternalServerError, Body: "internal error", Filter: "waypoint", Reason: err.Error()}
	}
	rec.noteReject(rej)
	w.logger.Info("request rejected", "filter", rej.Filter, "status", rej.Status, "reason", rej.Reason,
		"method", r.Method, "target", r.RequestURI, "request_id", ex.RequestID)
	h := rw.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("X-Request-Id", ex.RequestID)
	if rej.Status == http.StatusBadRequest {
		h.Set("Connection", "close") // the stream's framing may be unreliable
	}
	rw.WriteHeader(rej.Status)
	_, _ = rw.Write([]byte(rej.Body))
}

// requestID keeps a well-formed client x-request-id (Envoy preserves it for
// mesh-internal traffic, so traces join) and otherwise makes one.
func requestID(r *http.Request, gen func() string) string {
	if vs := r.Header.Values("X-Request-Id"); len(vs) == 1 && len(vs[0]) > 0 && len(vs[0]) <= 128 && validMethod(upperASCII(vs[0])) {
		return vs[0]
	}
	return gen()
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
