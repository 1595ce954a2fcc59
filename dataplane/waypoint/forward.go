package waypoint

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// forwarder is the terminal handler: it sends exactly the authorized request
// (normalized target, reconciled host, cleaned headers) to the upstream and
// streams the response back.
type forwarder struct {
	upstream http.RoundTripper
}

func (f *forwarder) Name() string { return "forward" }

func (f *forwarder) ServeL7(ctx context.Context, w http.ResponseWriter, ex *Exchange) error {
	out, rej := outboundRequest(ctx, ex)
	if rej != nil {
		return rej
	}
	resp, err := f.upstream.RoundTrip(out)
	if err != nil {
		return &Reject{Status: http.StatusServiceUnavailable, Body: BodyUpstreamFailure, Filter: "forward", Reason: err.Error()}
	}
	defer resp.Body.Close()
	stripHeaders(resp.Header)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("X-Request-Id", ex.RequestID)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return nil
}

// outboundRequest builds the upstream request. The URL carries the
// normalized path as RawPath, and is checked to serialize back to exactly
// those bytes, so the upstream sees the path authorization matched.
func outboundRequest(ctx context.Context, ex *Exchange) (*http.Request, *Reject) {
	decoded, err := url.PathUnescape(ex.Path)
	if err != nil {
		return nil, badRequest("forward", err.Error())
	}
	u := &url.URL{Scheme: "http", Host: ex.Host, Path: decoded, RawPath: ex.Path, RawQuery: ex.Query,
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
	in := ex.Req
	out := (&http.Request{
		Method: in.Method, URL: u, Host: ex.Host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		ContentLength: in.ContentLength,
	}).WithContext(ctx)
	if in.ContentLength != 0 && in.Body != nil && in.Body != http.NoBody {
		out.Body = in.Body
	}
	return out, nil
}
