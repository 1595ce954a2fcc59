// Package telemetry is the waypoint's observability: Istio's standard
// request metrics with reporter="waypoint", L4 metrics for TCP services the
// waypoint proxies, and an access log line per request or connection in
// ztunnel's access log format.
//
// Label semantics follow Istio's stats filter for a waypoint
// (istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc,
// Reporter::ServerGateway, ambient-semantics §13): the source is the HBONE
// peer (workload by source IP, namespace and principal from the peer's
// certificate), the destination workload is the upstream endpoint, and the
// destination service is the routed Service, else the Service whose VIP the
// client addressed, else the Host header.
package telemetry

import (
	"net/netip"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// ReporterWaypoint is the reporter label of every waypoint metric.
const ReporterWaypoint = "waypoint"

const unknown = "unknown"

// workloadLabelNames are the source/destination labels shared by L4 and L7
// metrics, in ztunnel's order (src/proxy/metrics.rs CommonTrafficLabels).
var workloadLabelNames = []string{
	"reporter",
	"source_workload", "source_canonical_service", "source_canonical_revision", "source_workload_namespace",
	"source_principal", "source_app", "source_version", "source_cluster",
	"destination_service", "destination_service_namespace", "destination_service_name",
	"destination_workload", "destination_canonical_service", "destination_canonical_revision",
	"destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
	"destination_cluster",
}

// tcpLabelNames label istio_tcp_*.
var tcpLabelNames = append(append([]string(nil), workloadLabelNames...),
	"request_protocol", "response_flags", "connection_security_policy")

// httpLabelNames label istio_request* (Istio adds response_code and
// grpc_response_status for HTTP).
var httpLabelNames = append(append([]string(nil), workloadLabelNames...),
	"request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy")

// Directory is the workload API view telemetry resolves addresses with;
// *workloadapi.Snapshot implements it.
type Directory interface {
	WorkloadByIP(netip.Addr) (*workloadapi.Workload, bool)
	ServiceByVIP(netip.Addr) (*workloadapi.Service, bool)
}

// flow is what label computation needs about one request or connection.
type flow struct {
	peer     waypoint.Peer
	hasPeer  bool
	record   waypoint.RecordView
	host     string // Host header: the destination_service fallback
	protocol string // "http", "grpc" or "tcp"
}

func orUnknown(s string) string {
	if s == "" {
		return unknown
	}
	return s
}

// sourceWorkload is the workload at the peer's source IP. When the peer
// proved an identity that the workload does not carry, the IP is not trusted
// to name the workload (the source IP travels in a header the client's
// ztunnel wrote; the certificate is proof).
func sourceWorkload(dir Directory, p waypoint.Peer) *workloadapi.Workload {
	if dir == nil || !p.SourceIP.IsValid() {
		return nil
	}
	w, ok := dir.WorkloadByIP(p.SourceIP)
	if !ok {
		return nil
	}
	if p.Identity != nil {
		id := w.Identity()
		if id.TrustDomain != p.Identity.TrustDomain || id.Namespace != p.Identity.Namespace || id.ServiceAccount != p.Identity.ServiceAccount {
			return nil
		}
	}
	return w
}

// endpointWorkload is the workload behind the upstream host, if any was chosen.
func endpointWorkload(dir Directory, host netip.AddrPort) *workloadapi.Workload {
	if dir == nil || !host.IsValid() {
		return nil
	}
	w, _ := dir.WorkloadByIP(host.Addr())
	return w
}

// destinationPrincipal is the identity the upstream transport verified, else
// the endpoint workload's (Envoy reads it from the endpoint metadata; the
// HBONE dial insists on the same one).
func destinationPrincipal(dst *workloadapi.Workload, verified string) string {
	if verified != "" {
		return verified
	}
	if dst != nil {
		return dst.Identity().String()
	}
	return ""
}

func workloadName(w *workloadapi.Workload) string {
	if w.WorkloadName != "" {
		return w.WorkloadName
	}
	return w.Name
}

// labels computes the label set shared by every metric of one flow.
func (f *flow) labels(dir Directory, extra int) prometheus.Labels {
	l := make(prometheus.Labels, len(workloadLabelNames)+extra)
	l["reporter"] = ReporterWaypoint

	src := sourceWorkload(dir, f.peer)
	var srcName, srcCanon, srcRev, srcNS, srcPrincipal, srcCluster string
	if src != nil {
		srcName, srcCanon, srcRev, srcNS, srcCluster = workloadName(src), src.CanonicalName, src.CanonicalRevision, src.Namespace, src.ClusterID
	}
	if f.peer.Identity != nil { // the certificate's namespace wins (istio_stats getNamespace(peer_san))
		srcPrincipal, srcNS = f.peer.Identity.String(), f.peer.Identity.Namespace
	}
	l["source_workload"] = orUnknown(srcName)
	l["source_canonical_service"] = orUnknown(srcCanon)
	l["source_canonical_revision"] = srcRev
	if srcRev == "" {
		l["source_canonical_revision"] = "latest" // istio_stats: context_.latest_ for the peer's revision
	}
	l["source_workload_namespace"] = orUnknown(srcNS)
	l["source_principal"] = orUnknown(srcPrincipal)
	l["source_app"] = orUnknown(srcCanon)
	l["source_version"] = orUnknown(srcRev)
	l["source_cluster"] = orUnknown(srcCluster)

	svcHost, svcNS, svcName := f.destinationService(dir)
	l["destination_service"] = orUnknown(svcHost)
	l["destination_service_namespace"] = orUnknown(svcNS)
	l["destination_service_name"] = orUnknown(svcName)

	dst := endpointWorkload(dir, f.record.UpstreamHost)
	var dstName, dstCanon, dstRev, dstNS, dstCluster string
	if dst != nil {
		dstName, dstCanon, dstRev, dstNS, dstCluster = workloadName(dst), dst.CanonicalName, dst.CanonicalRevision, dst.Namespace, dst.ClusterID
	}
	dstPrincipal := destinationPrincipal(dst, f.record.UpstreamPrincipal)
	l["destination_workload"] = orUnknown(dstName)
	l["destination_canonical_service"] = orUnknown(dstCanon)
	l["destination_canonical_revision"] = orUnknown(dstRev)
	l["destination_workload_namespace"] = orUnknown(dstNS)
	l["destination_principal"] = orUnknown(dstPrincipal)
	l["destination_app"] = orUnknown(dstCanon)
	l["destination_version"] = orUnknown(dstRev)
	l["destination_cluster"] = orUnknown(dstCluster)

	l["request_protocol"] = f.protocol
	l["response_flags"] = f.record.Flags.String()
	l["connection_security_policy"] = f.securityPolicy()
	return l
}

// destinationService is the routed backend's Service, else the Service whose
// VIP the client addressed (Envoy knows the cluster before any filter runs,
// so even a denied request names it), else the Host header for both host and
// name with no namespace (istio_stats host-header fallback).
func (f *flow) destinationService(dir Directory) (host, ns, name string) {
	if b := f.record.Backend; f.record.HasBackend && b.ServiceHostname != "" {
		return b.ServiceHostname, b.ServiceNamespace, b.ServiceName
	}
	if dir != nil && f.peer.DestinationIP.IsValid() {
		if s, ok := dir.ServiceByVIP(f.peer.DestinationIP); ok {
			return s.Hostname, s.Namespace, s.Name
		}
	}
	return f.host, "", f.host
}

// securityPolicy: mutual_tls when the peer presented a certificate (the
// waypoint always presents its own on HBONE), none for a plaintext peer,
// unknown without connection information.
func (f *flow) securityPolicy() string {
	switch {
	case !f.hasPeer:
		return unknown
	case f.peer.Identity != nil:
		return "mutual_tls"
	}
	return "none"
}

// values orders l by names for WithLabelValues.
func values(l prometheus.Labels, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = l[n]
	}
	return out
}

// httpLabels adds the HTTP-only labels.
func (f *flow) httpLabels(dir Directory, status int, grpcStatus string) prometheus.Labels {
	l := f.labels(dir, 2)
	l["response_code"] = strconv.Itoa(status)
	l["grpc_response_status"] = grpcStatus
	return l
}
