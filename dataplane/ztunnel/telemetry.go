package ztunnel

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// connInfo is what telemetry knows about one proxied connection.
type connInfo struct {
	direction   Direction
	security    SecurityPolicy
	srcAddr     netip.AddrPort
	src         *workloadapi.Workload
	srcIdentity *identity.Identity // only when proven by mTLS (or our own pod's)
	dstAddr     netip.AddrPort     // what we dialled (podIP:15008 for outbound HBONE)
	hboneAddr   netip.AddrPort     // the CONNECT authority, when tunnelled
	dst         *workloadapi.Workload
	dstIdentity *identity.Identity
	service     *workloadapi.Service
}

func (ci *connInfo) reporter() Reporter {
	if ci.direction == DirectionOutbound {
		return ReporterSource
	}
	return ReporterDestination
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// workloadLabels fills source_* or destination_* (ztunnel metrics.rs
// DerivedWorkload: workload = the controller name, app/canonical_service =
// canonical name, version/canonical_revision = canonical revision).
func workloadLabels(l prometheus.Labels, prefix string, w *workloadapi.Workload, id *identity.Identity) {
	var name, ns, canon, rev, cluster string
	if w != nil {
		name, ns, canon, rev, cluster = w.WorkloadName, w.Namespace, w.CanonicalName, w.CanonicalRevision, w.ClusterID
		if name == "" {
			name = w.Name
		}
	}
	principal := ""
	if id != nil {
		principal = id.String()
	}
	l[prefix+"workload"] = orUnknown(name)
	l[prefix+"canonical_service"] = orUnknown(canon)
	l[prefix+"canonical_revision"] = orUnknown(rev)
	l[prefix+"workload_namespace"] = orUnknown(ns)
	l[prefix+"principal"] = orUnknown(principal)
	l[prefix+"app"] = orUnknown(canon)
	l[prefix+"version"] = orUnknown(rev)
	l[prefix+"cluster"] = orUnknown(cluster)
}

func (ci *connInfo) labels(flag ResponseFlag) prometheus.Labels {
	l := make(prometheus.Labels, len(tcpLabels))
	l["reporter"] = ci.reporter().String()
	workloadLabels(l, "source_", ci.src, ci.srcIdentity)
	workloadLabels(l, "destination_", ci.dst, ci.dstIdentity)
	var host, ns, name string
	if ci.service != nil {
		host, ns, name = ci.service.Hostname, ci.service.Namespace, ci.service.Name
	}
	l["destination_service"] = orUnknown(host)
	l["destination_service_namespace"] = orUnknown(ns)
	l["destination_service_name"] = orUnknown(name)
	l["request_protocol"] = "tcp"
	l["response_flags"] = flag.String()
	l["connection_security_policy"] = ci.security.String()
	return l
}

// connTracker reports one connection: opened when created, then exactly
// one of complete or fail.
type connTracker struct {
	m     *Metrics
	log   *slog.Logger
	start time.Time
	info  connInfo
}

func (p *Proxy) track(info connInfo) *connTracker {
	t := &connTracker{m: p.metrics, log: p.accessLog, start: time.Now(), info: info}
	t.m.opened.With(info.labels(FlagNone)).Inc()
	t.m.socketsOpen.WithLabelValues(info.direction.String()).Inc()
	return t
}

// complete records a connection that was forwarded. clientToServer and
// serverToClient are byte counts from the client's point of view. err is
// the copy's error, if any (logged at ERROR with error=).
func (t *connTracker) complete(clientToServer, serverToClient int64, flag ResponseFlag, err error) {
	l := t.info.labels(flag)
	t.m.closed.With(l).Inc()
	t.m.socketsOpen.WithLabelValues(t.info.direction.String()).Dec()
	// istio_tcp_received_bytes_total is "bytes received during request"
	// at the destination; reporter=source swaps the two counters, as
	// ztunnel does (istio#32399).
	req, resp := clientToServer, serverToClient
	if t.info.reporter() == ReporterSource {
		req, resp = resp, req
	}
	t.m.recvBytes.With(l).Add(float64(req))
	t.m.sentBytes.With(l).Add(float64(resp))
	level, msg := slog.LevelInfo, msgConnectionComplete
	if err != nil {
		level = slog.LevelError
	}
	t.emit(level, msg, clientToServer, serverToClient, err)
}

// fail records a connection refused or failed before any byte moved:
// WARN "connection failed" (ztunnel logs early denies this way).
func (t *connTracker) fail(flag ResponseFlag, err error) {
	l := t.info.labels(flag)
	t.m.closed.With(l).Inc()
	t.m.failed.With(l).Inc()
	t.m.socketsOpen.WithLabelValues(t.info.direction.String()).Dec()
	t.emit(slog.LevelWarn, msgConnectionFailed, 0, 0, err)
}

func (t *connTracker) emit(level slog.Level, msg string, sent, recv int64, err error) {
	ci := &t.info
	as := make([]slog.Attr, 0, 18)
	if ci.srcAddr.IsValid() {
		as = append(as, slog.Any("src.addr", ci.srcAddr))
	}
	if ci.src != nil {
		as = append(as, slog.String("src.workload", ci.src.Name), slog.String("src.namespace", ci.src.Namespace))
	}
	if ci.srcIdentity != nil {
		as = append(as, slog.String("src.identity", ci.srcIdentity.String()))
	}
	if ci.src != nil && ci.src.ClusterID != "" {
		as = append(as, slog.String("src.cluster", ci.src.ClusterID))
	}
	if ci.dstAddr.IsValid() {
		as = append(as, slog.Any("dst.addr", ci.dstAddr))
	}
	if ci.hboneAddr.IsValid() {
		as = append(as, slog.Any("dst.hbone_addr", ci.hboneAddr))
	}
	if ci.service != nil {
		as = append(as, slog.String("dst.service", ci.service.Hostname))
	}
	if ci.dst != nil {
		as = append(as, slog.String("dst.workload", ci.dst.Name), slog.String("dst.namespace", ci.dst.Namespace))
	}
	if ci.dstIdentity != nil {
		as = append(as, slog.String("dst.identity", ci.dstIdentity.String()))
	}
	if ci.dst != nil && ci.dst.ClusterID != "" {
		as = append(as, slog.String("dst.cluster", ci.dst.ClusterID))
	}
	as = append(as, slog.String("direction", ci.direction.String()),
		slog.Int64("bytes_sent", sent), slog.Int64("bytes_recv", recv),
		slog.String("duration", time.Since(t.start).Round(time.Millisecond).String()))
	if err != nil {
		as = append(as, slog.String("error", err.Error()))
	}
	t.log.LogAttrs(context.Background(), level, msg, as...)
}

func identityPtr(id identity.Identity) *identity.Identity {
	if id == (identity.Identity{}) {
		return nil
	}
	return &id
}
