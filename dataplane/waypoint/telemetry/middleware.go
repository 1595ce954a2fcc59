package telemetry

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
)

// Wrap returns next with per-request telemetry around it: it attaches a
// waypoint.Record to the request context (next, normally the
// *waypoint.Waypoint, and its upstream transport fill it in), measures the
// status, bytes and duration, then records the metrics and writes the access
// log line. Streaming is preserved: the wrapped ResponseWriter forwards
// Flush and exposes Unwrap for http.ResponseController.
func (t *Telemetry) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := t.now()
		ctx := r.Context()
		rec := waypoint.RecordFromContext(ctx)
		if rec == nil {
			rec = &waypoint.Record{}
			ctx = waypoint.WithRecord(ctx, rec)
		}
		in := r.WithContext(ctx) // a shallow copy: the server's request is left alone
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			in.Body = body
		}
		rw := &responseRecorder{w: w}
		next.ServeHTTP(rw, in)

		peer, hasPeer := waypoint.PeerFromContext(ctx)
		view := rec.View()
		status := rw.status
		if ctx.Err() != nil || rw.writeErr != nil {
			// The client went away (the server cancels the request context
			// when the connection dies) or stopped reading.
			view.Flags |= waypoint.FlagDownstreamConnectionTermination
			if view.Details == "" {
				view.Details = waypoint.DetailsDownstreamReset
			}
		} else if status == 0 {
			status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
		}
		grpc := isGRPC(r)
		protocol := "http"
		if grpc {
			protocol = "grpc"
		}
		f := &flow{peer: peer, hasPeer: hasPeer, record: view, host: r.Host, protocol: protocol}
		dir := t.dir()
		labels := f.httpLabels(dir, status, grpcStatus(grpc, rw.Header(), status))
		elapsed := t.now().Sub(start)
		var bodyIn int64
		if body != nil {
			bodyIn = body.n.Load()
		}
		received := requestHeadBytes(r) + bodyIn
		sent := rw.headBytes + rw.bodyBytes
		vals := values(labels, httpLabelNames) // positional lookups skip per-metric map validation
		t.requests.WithLabelValues(vals...).Inc()
		t.duration.WithLabelValues(vals...).Observe(milliseconds(elapsed))
		t.requestSize.WithLabelValues(vals...).Observe(float64(received))
		t.responseSize.WithLabelValues(vals...).Observe(float64(sent))
		t.logRequest(ctx, f, dir, r, status, received, sent, start, elapsed)
	})
}

// countingBody counts request body bytes as the handler reads them.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64 // the upstream transport may read from its own goroutine
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// responseRecorder observes the final status and the bytes written.
type responseRecorder struct {
	w         http.ResponseWriter
	status    int
	headBytes int64
	bodyBytes int64
	writeErr  error
}

func (r *responseRecorder) Header() http.Header { return r.w.Header() }

func (r *responseRecorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
		r.headBytes = responseHeadBytes(code, r.w.Header())
	}
	r.w.WriteHeader(code)
}

func (r *responseRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.w.Write(p)
	r.bodyBytes += int64(n)
	if err != nil && r.writeErr == nil {
		r.writeErr = err
	}
	return n, err
}

// Flush forwards to the underlying writer, so streamed responses (SSE,
// gRPC) reach the client as they are produced.
func (r *responseRecorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK) // what the underlying Flush does implicitly
	}
	if f, ok := r.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.w }

// Byte counts approximate Envoy's downstream wire bytes (headers + body) as
// HTTP/1.1 serializes them: request line or status line, the header fields
// the handler saw or set, the blank line, and the body. Headers net/http adds
// on its own (Date, Content-Length, Transfer-Encoding) and chunk framing are
// not counted.
func requestHeadBytes(r *http.Request) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	return int64(n+headerBytes(r.Header)) + 2
}

func responseHeadBytes(code int, h http.Header) int64 {
	n := len("HTTP/1.1 ") + 3 + 1 + len(http.StatusText(code)) + 2
	return int64(n+headerBytes(h)) + 2
}

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// isGRPC is Envoy's Grpc::Common::isGrpcRequestHeaders: content-type
// application/grpc or application/grpc+<subtype> (not grpc-web).
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// grpcStatus is the grpc_response_status label: empty for non-gRPC requests;
// for gRPC the grpc-status trailer, else header, else the HTTP status mapped
// as Envoy's Grpc::Utility::httpToGrpcStatus does (istio_stats.cc via
// Grpc::Common::getGrpcStatus(trailers, headers, info)).
func grpcStatus(grpc bool, h http.Header, status int) string {
	if !grpc {
		return ""
	}
	for _, k := range []string{http.TrailerPrefix + "Grpc-Status", "Grpc-Status"} {
		if v := h.Get(k); v != "" {
			if _, err := strconv.ParseUint(v, 10, 32); err == nil {
				return v
			}
		}
	}
	if status == 0 {
		return ""
	}
	return strconv.Itoa(httpToGRPCStatus(status))
}

// httpToGRPCStatus follows the gRPC HTTP-to-status mapping
// (doc/http-grpc-status-mapping.md) that Envoy implements.
func httpToGRPCStatus(status int) int {
	switch status {
	case http.StatusBadRequest:
		return 13 // INTERNAL
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}
