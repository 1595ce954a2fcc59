package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
)

// TCPConn reports one L4 connection the waypoint proxies for a TCP Service:
// OpenTCP counts it opened; exactly one of Complete or Fail ends it (further
// calls are ignored).
type TCPConn struct {
	t     *Telemetry
	peer  waypoint.Peer
	rec   *waypoint.Record
	start time.Time
	once  sync.Once
}

// OpenTCP starts reporting a connection. rec carries the routing decision
// (SetBackend) and the upstream endpoint (SetUpstream), set before or after
// this call; flags added to it later (UF, UH, ...) show on the close
// metrics. A nil rec reports everything about the destination as unknown.
func (t *Telemetry) OpenTCP(peer waypoint.Peer, rec *waypoint.Record) *TCPConn {
	if rec == nil {
		rec = &waypoint.Record{}
	}
	c := &TCPConn{t: t, peer: peer, rec: rec, start: t.now()}
	f := c.flow()
	t.tcpOpened.WithLabelValues(values(f.labels(t.dir(), 3), tcpLabelNames)...).Inc()
	t.tcpOpenGauge.Inc()
	return c
}

func (c *TCPConn) flow() *flow {
	return &flow{peer: c.peer, hasPeer: c.peer.SourceIP.IsValid(), record: c.rec.View(), protocol: "tcp"}
}

// Complete ends a connection that was proxied: received is bytes from the
// client (istio_tcp_received_bytes_total, "during request"), sent is bytes to
// it. err is the copy's error, if any (logged at ERROR with error=).
func (c *TCPConn) Complete(received, sent int64, err error) {
	c.once.Do(func() {
		t, f, dir := c.t, c.flow(), c.t.dir()
		l := values(f.labels(dir, 3), tcpLabelNames)
		t.tcpClosed.WithLabelValues(l...).Inc()
		t.tcpReceived.WithLabelValues(l...).Add(float64(received))
		t.tcpSent.WithLabelValues(l...).Add(float64(sent))
		t.tcpOpenGauge.Dec()
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		c.log(f, dir, level, MsgConnectionComplete, received, sent, err)
	})
}

// Fail ends a connection that never reached an upstream (denied, no
// endpoint, dial failed): WARN "connection failed", as ztunnel logs early
// failures. Add the response flag to the record first.
func (c *TCPConn) Fail(err error) {
	c.once.Do(func() {
		t, f, dir := c.t, c.flow(), c.t.dir()
		l := values(f.labels(dir, 3), tcpLabelNames)
		t.tcpClosed.WithLabelValues(l...).Inc()
		t.tcpFailed.WithLabelValues(l...).Inc()
		t.tcpOpenGauge.Dec()
		c.log(f, dir, slog.LevelWarn, MsgConnectionFailed, 0, 0, err)
	})
}

// log writes ztunnel's connection line; bytes_sent/bytes_recv are from the
// client's side as in ztunnel (sent = client to server).
func (c *TCPConn) log(f *flow, dir Directory, level slog.Level, msg string, received, sent int64, err error) {
	ctx := context.Background()
	if !c.t.log.Enabled(ctx, level) {
		return
	}
	as := f.peerAttrs(dir, make([]slog.Attr, 0, 20))
	as = append(as, slog.String("response_flags", f.record.Flags.String()),
		slog.Int64("bytes_sent", received), slog.Int64("bytes_recv", sent),
		slog.String("duration", c.t.now().Sub(c.start).Round(time.Millisecond).String()))
	if err != nil {
		as = append(as, slog.String("error", err.Error()))
	}
	c.t.log.LogAttrs(ctx, level, msg, as...)
}
