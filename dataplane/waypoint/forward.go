package waypoint

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

// RetryBodyLimit bounds the request body the forwarder buffers so that a
// retry can resend it. A larger (or longer-than-announced streamed) body is
// sent once and never retried: its bytes may already be gone. Envoy's
// equivalent bound is the connection buffer limit (1 MiB by default); ours
// is smaller because every concurrent request may hold one.
const RetryBodyLimit = 64 << 10

// forwarder is the terminal handler: it sends exactly the authorized (and
// routed) request to the backend the router chose — URL.Host is the backend
// VIP:port, never the Host header — with the route's timeout, per-try
// timeout and retries, and streams the response back.
type forwarder struct {
	upstream http.RoundTripper
}

func (f *forwarder) Name() string { return "forward" }

func (f *forwarder) ServeL7(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
	rt := routingFrom(ctx)
	if rt == nil { // a chain without the router: the original destination, no retries
		rt = &routing{Target: netip.AddrPortFrom(ex.Peer.DestinationIP, ex.Peer.DestPort), Rand: func() float64 { return 0 }}
	}
	if rt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.Timeout)
		defer cancel()
	}
	body, retriable := replayableBody(ex.Req, rt.Retry)
	policy := rt.Retry
	if !retriable {
		policy = nil
	}
	for try := 0; ; try++ {
		resp, outcome, finish, rej := f.attempt(ctx, ex, rt, body)
		if rej != nil {
			return rej
		}
		retry := try < attemptsOf(policy) && policy.ShouldRetry(outcome)
		if !retry {
			if try > 0 && policy.ShouldRetry(outcome) {
				ex.Record.AddFlags(FlagUpstreamRetryLimitExceeded)
			}
			if resp == nil {
				finish()
				return f.failure(ctx, ex, outcome)
			}
			defer finish()
			return f.respond(w, ex, rt, resp)
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		finish()
		if err := sleepCtx(ctx, policy.BackoffBefore(try+1, rt.Rand)); err != nil {
			return f.failure(ctx, ex, outcome)
		}
	}
}

func attemptsOf(p *route.Retry) int {
	if p == nil {
		return 0
	}
	return p.Attempts
}

// attempt sends one try. finish releases the try's context once the
// response (if any) has been consumed.
func (f *forwarder) attempt(ctx context.Context, ex *Exchange, rt *routing, body *bodySource) (*http.Response, route.Outcome, func(), *Reject) {
	tryCtx, cancel := context.WithCancel(ctx)
	var perTryExpired atomic.Bool
	var gotHeaders atomic.Bool
	stop := func() bool { return true }
	if rt.Retry != nil && rt.Retry.PerTryTimeout > 0 {
		t := time.AfterFunc(rt.Retry.PerTryTimeout.D(), func() {
			if !gotHeaders.Load() {
				perTryExpired.Store(true)
				cancel()
			}
		})
		stop = t.Stop
	}
	finish := func() { stop(); cancel() }
	out, rej := outboundRequest(tryCtx, ex, rt.Target)
	if rej != nil {
		finish()
		return nil, route.Outcome{}, finish, rej
	}
	out.Body, out.ContentLength = body.next(), body.length
	flagsBefore := ex.Record.View().Flags
	resp, err := f.upstream.RoundTrip(out)
	gotHeaders.Store(true)
	if err == nil {
		return resp, route.Outcome{Status: resp.StatusCode, GRPCStatus: resp.Header.Get("Grpc-Status")}, finish, nil
	}
	newFlags := ex.Record.View().Flags &^ flagsBefore
	switch {
	case perTryExpired.Load():
		return nil, route.Outcome{Failure: route.FailurePerTryTimeout}, finish, nil
	case ctx.Err() != nil:
		return nil, route.Outcome{Failure: route.FailurePerTryTimeout}, finish, nil // the overall timeout or the client; failure() tells
	case newFlags&FlagNoHealthyUpstream != 0 || errors.Is(err, ErrNoHealthyUpstream):
		return nil, route.Outcome{Failure: failureNoHealthy}, finish, nil
	case newFlags&FlagUpstreamConnectionFailure != 0 || isConnectError(err):
		return nil, route.Outcome{Failure: route.FailureConnect}, finish, nil
	}
	ex.Record.AddFlags(FlagUpstreamRemoteReset)
	return nil, route.Outcome{Failure: route.FailureReset}, finish, nil
}

// failureNoHealthy is a try that found no endpoint: never retried (Envoy
// answers no_healthy_upstream at once), distinct from route's failures.
const failureNoHealthy route.Failure = -1

// ErrNoHealthyUpstream may be wrapped by an Upstream to say the backend has
// no healthy endpoint (503 "no healthy upstream", UH). An Upstream may
// instead record FlagNoHealthyUpstream on the request's Record.
var ErrNoHealthyUpstream = errors.New("waypoint: no healthy upstream")

// isConnectError: the dial itself failed, so nothing was sent.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

// failure turns a final failed try into Envoy's local reply.
func (f *forwarder) failure(ctx context.Context, ex *Exchange, o route.Outcome) error {
	switch {
	case o.Failure == failureNoHealthy:
		ex.Record.AddFlags(FlagNoHealthyUpstream)
		ex.Record.SetDetails(DetailsNoHealthyUpstream)
		return &Reject{Status: http.StatusServiceUnavailable, Body: BodyNoHealthyUpstream, Filter: "forward", Reason: "no healthy upstream"}
	case errors.Is(ctx.Err(), context.Canceled) && o.Failure == route.FailurePerTryTimeout:
		ex.Record.AddFlags(FlagDownstreamConnectionTermination)
		ex.Record.SetDetails(DetailsDownstreamReset)
		return &Reject{Status: http.StatusServiceUnavailable, Body: BodyUpstreamFailure, Filter: "forward", Reason: "client went away"}
	case o.Failure == route.FailurePerTryTimeout:
		ex.Record.AddFlags(FlagUpstreamRequestTimeout)
		ex.Record.SetDetails(DetailsResponseTimeout)
		return &Reject{Status: http.StatusGatewayTimeout, Body: BodyUpstreamTimeout, Filter: "forward", Reason: "upstream request timeout"}
	case o.Failure == route.FailureConnect:
		ex.Record.AddFlags(FlagUpstreamConnectionFailure)
		ex.Record.SetDetails(DetailsConnectionFailure)
	default:
		ex.Record.SetDetails(DetailsRemoteReset)
	}
	return &Reject{Status: http.StatusServiceUnavailable, Body: BodyUpstreamFailure, Filter: "forward", Reason: "upstream failure"}
}

// respond streams resp to the client: hop-by-hop and internal headers
// removed, the route's response header modifier applied, trailers kept.
// Every chunk is flushed at once (gRPC and server-sent events must not
// wait) except the one that completes a body of known length: the handler
// returns right after it and the server writes it then, so an explicit
// flush would only add work on the common small-response path.
func (f *forwarder) respond(w http.ResponseWriter, ex *Exchange, rt *routing, resp *http.Response) error {
	defer resp.Body.Close()
	stripHeaders(resp.Header)
	rt.ResponseHeaders.Apply(resp.Header)
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	h.Set("X-Request-Id", ex.RequestID)
	w.WriteHeader(resp.StatusCode)
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	buf := *bufp
	flush := http.NewResponseController(w)
	var written int64
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				ex.Record.AddFlags(FlagDownstreamConnectionTermination)
				return nil
			}
			written += int64(n)
			if needsFlush(resp, written, err) {
				_ = flush.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			ex.Record.AddFlags(FlagUpstreamConnectionTermination)
			return nil // headers are gone; the response ends short
		}
	}
	for k, vs := range resp.Trailer {
		h[http.TrailerPrefix+k] = vs
	}
	return nil
}

// needsFlush says whether the bytes written so far must reach the client
// before the next upstream read: not when that read also reported the end,
// nor when a body of known length is complete — the handler is about to
// return and the server sends them then. A broken upstream still gets what
// arrived delivered before the response ends short.
func needsFlush(resp *http.Response, written int64, readErr error) bool {
	switch {
	case readErr == io.EOF:
		return false
	case readErr != nil:
		return true
	}
	return resp.ContentLength < 0 || written < resp.ContentLength
}

// copyBuffers holds respond's copy buffers: one per in-flight response
// rather than a fresh 32 KiB allocation per request.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bodySource hands each try the request body: the buffered bytes again,
// or (for an unbuffered body) the stream once.
type bodySource struct {
	buffered []byte
	stream   io.ReadCloser
	length   int64
}

func (b *bodySource) next() io.ReadCloser {
	switch {
	case b.stream != nil:
		s := b.stream
		b.stream = nil
		return s
	case b.buffered != nil:
		return io.NopCloser(bytes.NewReader(b.buffered))
	}
	return http.NoBody
}

// replayableBody buffers the body when a retry could need it and it fits
// RetryBodyLimit; otherwise the body streams once and retriable is false.
// A body the client announced but never sends is not buffered at all:
// nothing is read unless a retry policy exists.
func replayableBody(in *http.Request, p *route.Retry) (*bodySource, bool) {
	if in.Body == nil || in.Body == http.NoBody || in.ContentLength == 0 {
		return &bodySource{}, true
	}
	if attemptsOf(p) == 0 || in.ContentLength > RetryBodyLimit {
		return &bodySource{stream: in.Body, length: in.ContentLength}, false
	}
	buf, err := io.ReadAll(io.LimitReader(in.Body, RetryBodyLimit+1))
	if err != nil {
		// The client's body broke (e.g. shorter than its content-length).
		// Hand the upstream what arrived and then the same error, so the
		// failure surfaces where an unbuffered body's would: the upstream
		// write fails and nothing complete is delivered.
		broken := io.MultiReader(bytes.NewReader(buf), errReader{err})
		return &bodySource{stream: readCloser{broken, in.Body}, length: in.ContentLength}, false
	}
	if len(buf) > RetryBodyLimit { // chunked and too long: stream what was read plus the rest
		rest := io.MultiReader(bytes.NewReader(buf), in.Body)
		return &bodySource{stream: readCloser{rest, in.Body}, length: -1}, false
	}
	return &bodySource{buffered: buf, length: int64(len(buf))}, true
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type readCloser struct {
	io.Reader
	io.Closer
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outboundRequest builds the upstream request for target (the backend
// VIP:port). The URL carries the normalized path as RawPath, and is checked
// to serialize back to exactly those bytes, so the upstream sees the path
// authorization matched (or the route's rewrite of it). The Host header is
// the request's, unless a URLRewrite changed it.
func outboundRequest(ctx context.Context, ex *Exchange, target netip.AddrPort) (*http.Request, *Reject) {
	decoded, err := url.PathUnescape(ex.Path)
	if err != nil {
		return nil, badRequest("forward", err.Error())
	}
	u := &url.URL{Scheme: "http", Host: target.String(), Path: decoded, RawPath: ex.Path, RawQuery: ex.Query,
		ForceQuery: ex.Query == "" && len(ex.Target) > len(ex.Path)}
	if u.RequestURI() != ex.Target {
		return nil, badRequest("forward", "target not representable: "+ex.Target)
	}
	h := ex.Header.Clone()
	h.Set("X-Request-Id", ex.RequestID)
	h.Set("X-Forwarded-Proto", "http")
	h.Set("X-Forwarded-For", ex.Peer.SourceIP.String())
	if ex.Peer.Identity != nil {
		h.Set("X-Forwarded-Client-Cert", "URI="+ex.Peer.Identity.String())
	}
	out := (&http.Request{
		Method: ex.Req.Method, URL: u, Host: ex.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}).WithContext(ctx)
	return out, nil
}
