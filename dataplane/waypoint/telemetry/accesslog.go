package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Access log messages (scope "access", ztunnel's format; build the logger
// on ztunnel.NewAccessLogHandler).
const (
	MsgRequestComplete    = "request complete"
	MsgConnectionComplete = "connection complete"
	MsgConnectionFailed   = "connection failed"
)

// hboneMTLSPort is where the waypoint dials endpoints (ambient-semantics §1).
const hboneMTLSPort = 15008

// peerAttrs are the src.* and dst.* keys of ztunnel's access log, filled from
// the waypoint's view: the source is the HBONE peer, the destination the
// upstream endpoint reached through HBONE (dst.addr what was dialled,
// dst.hbone_addr the CONNECT authority).
func (f *flow) peerAttrs(dir Directory, as []slog.Attr) []slog.Attr {
	if f.peer.SourceIP.IsValid() {
		as = append(as, slog.Any("src.addr", f.peer.SourceIP))
	}
	src := sourceWorkload(dir, f.peer)
	if src != nil {
		as = append(as, slog.String("src.workload", src.Name), slog.String("src.namespace", src.Namespace))
	}
	if f.peer.Identity != nil {
		as = append(as, slog.String("src.identity", f.peer.Identity.String()))
	}
	if src != nil && src.ClusterID != "" {
		as = append(as, slog.String("src.cluster", src.ClusterID))
	}
	up := f.record.UpstreamHost
	if up.IsValid() {
		as = append(as, slog.Any("dst.addr", netip.AddrPortFrom(up.Addr(), hboneMTLSPort)), slog.Any("dst.hbone_addr", up))
	} else if f.peer.DestinationIP.IsValid() {
		as = append(as, slog.Any("dst.addr", netip.AddrPortFrom(f.peer.DestinationIP, f.peer.DestPort)))
	}
	if host, _, _ := f.destinationService(dir); host != "" {
		as = append(as, slog.String("dst.service", host))
	}
	dst := endpointWorkload(dir, up)
	if dst != nil {
		as = append(as, slog.String("dst.workload", dst.Name), slog.String("dst.namespace", dst.Namespace))
	}
	if id := destinationPrincipal(dst, f.record.UpstreamPrincipal); id != "" {
		as = append(as, slog.String("dst.identity", id))
	}
	if dst != nil && dst.ClusterID != "" {
		as = append(as, slog.String("dst.cluster", dst.ClusterID))
	}
	return as
}

// logRequest writes the per-request line: ztunnel's src/dst keys plus the
// fields of Envoy's default access log format (start time, method, path,
// protocol, response code, flags, details, bytes, duration, upstream host,
// x-request-id, authority). Requests with response flags (failures) log at
// ERROR, like ztunnel's failed connections.
func (t *Telemetry) logRequest(ctx context.Context, f *flow, dir Directory, r *http.Request, status int,
	received, sent int64, start time.Time, elapsed time.Duration) {
	level := slog.LevelInfo
	if f.record.Flags != 0 {
		level = slog.LevelError
	}
	if !t.log.Enabled(ctx, level) {
		return
	}
	as := f.peerAttrs(dir, make([]slog.Attr, 0, 24))
	details, requestID := f.record.Details, f.record.RequestID
	if details == "" {
		details = "-"
	}
	if requestID == "" {
		requestID = r.Header.Get("X-Request-Id")
	}
	as = append(as,
		slog.String("start_time", start.UTC().Format(time.RFC3339Nano)),
		slog.String("method", r.Method),
		slog.String("path", r.RequestURI),
		slog.String("protocol", r.Proto),
		slog.Int("response_code", status),
		slog.String("response_flags", f.record.Flags.String()),
		slog.String("response_code_details", details),
		slog.Int64("bytes_received", received),
		slog.Int64("bytes_sent", sent),
		slog.String("duration", elapsed.Round(time.Millisecond).String()),
	)
	if f.record.UpstreamHost.IsValid() {
		as = append(as, slog.Any("upstream_host", f.record.UpstreamHost))
	}
	as = append(as, slog.String("request_id", requestID), slog.String("authority", r.Host))
	t.log.LogAttrs(context.WithoutCancel(ctx), level, MsgRequestComplete, as...)
}
