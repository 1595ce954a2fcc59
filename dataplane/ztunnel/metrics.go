package ztunnel

import (
	"github.com/prometheus/client_golang/prometheus"
)

// tcpLabels are the L4 labels in ztunnel's order (src/proxy/metrics.rs
// CommonTrafficLabels; ambient-semantics.md §13).
var tcpLabels = []string{
	"reporter",
	"source_workload", "source_canonical_service", "source_canonical_revision", "source_workload_namespace",
	"source_principal", "source_app", "source_version", "source_cluster",
	"destination_service", "destination_service_namespace", "destination_service_name",
	"destination_workload", "destination_canonical_service", "destination_canonical_revision",
	"destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
	"destination_cluster",
	"request_protocol", "response_flags", "connection_security_policy",
}

// Metrics holds one proxy's Prometheus collectors on a registry of its own,
// so several proxies (tests, one per node) never collide.
type Metrics struct {
	Registry    *prometheus.Registry
	opened      *prometheus.CounterVec
	closed      *prometheus.CounterVec
	failed      *prometheus.CounterVec
	sentBytes   *prometheus.CounterVec
	recvBytes   *prometheus.CounterVec
	socketsOpen *prometheus.GaugeVec
}

func newMetrics() *Metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, tcpLabels)
	}
	m := &Metrics{
		Registry:  prometheus.NewRegistry(),
		opened:    counter("istio_tcp_connections_opened_total", "The total number of TCP connections opened"),
		closed:    counter("istio_tcp_connections_closed_total", "The total number of TCP connections closed"),
		failed:    counter("istio_tcp_connections_failed_total", "The total number of TCP connections that failed to establish"),
		sentBytes: counter("istio_tcp_sent_bytes_total", "The size of total bytes sent during response in case of a TCP connection"),
		recvBytes: counter("istio_tcp_received_bytes_total", "The size of total bytes received during request in case of a TCP connection"),
		socketsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "istio_tcp_sockets_open",
			Help: "The current number of open proxied connections"}, []string{"direction"}),
	}
	m.Registry.MustRegister(m.opened, m.closed, m.failed, m.sentBytes, m.recvBytes, m.socketsOpen)
	return m
}
