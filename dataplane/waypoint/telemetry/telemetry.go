package telemetry

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// DefaultBuckets are Envoy's default histogram bounds
// (source/common/stats/histogram_impl.cc HistogramSettingsImpl::defaultBuckets),
// which Istio keeps for istio_request_duration_milliseconds,
// istio_request_bytes and istio_response_bytes unless a pod annotation
// (sidecar.istio.io/statsHistogramBuckets) overrides them.
var DefaultBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
	300000, 600000, 1800000, 3600000}

// Config builds a Telemetry.
type Config struct {
	// Registry receives the collectors; nil makes a new one (see Registry()).
	Registry *prometheus.Registry
	// AccessLog receives one line per request and per TCP connection; build
	// it on ztunnel.NewAccessLogHandler for ztunnel's plain/json format.
	// nil discards.
	AccessLog *slog.Logger
	// Directory returns the current workload API view (it changes with every
	// xDS push); nil or a nil result leaves workload labels "unknown".
	Directory func() Directory
	// Now defaults to time.Now; durations use its monotonic reading.
	Now func() time.Time
}

// Telemetry records the waypoint's metrics and access log.
type Telemetry struct {
	registry  *prometheus.Registry
	log       *slog.Logger
	directory func() Directory
	now       func() time.Time

	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	requestSize  *prometheus.HistogramVec
	responseSize *prometheus.HistogramVec

	tcpOpened    *prometheus.CounterVec
	tcpClosed    *prometheus.CounterVec
	tcpFailed    *prometheus.CounterVec
	tcpSent      *prometheus.CounterVec
	tcpReceived  *prometheus.CounterVec
	tcpOpenGauge prometheus.Gauge
}

// New registers the collectors on cfg.Registry.
func New(cfg Config) (*Telemetry, error) {
	t := &Telemetry{registry: cfg.Registry, log: cfg.AccessLog, directory: cfg.Directory, now: cfg.Now}
	if t.registry == nil {
		t.registry = prometheus.NewRegistry()
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: DefaultBuckets}, httpLabelNames)
	}
	tcpCounter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, tcpLabelNames)
	}
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total",
		Help: "The total number of requests"}, httpLabelNames)
	t.duration = histogram("istio_request_duration_milliseconds", "The duration of requests in milliseconds")
	t.requestSize = histogram("istio_request_bytes", "The size of requests in bytes")
	t.responseSize = histogram("istio_response_bytes", "The size of responses in bytes")
	t.tcpOpened = tcpCounter("istio_tcp_connections_opened_total", "The total number of TCP connections opened")
	t.tcpClosed = tcpCounter("istio_tcp_connections_closed_total", "The total number of TCP connections closed")
	t.tcpFailed = tcpCounter("istio_tcp_connections_failed_total", "The total number of TCP connections that failed to establish")
	t.tcpSent = tcpCounter("istio_tcp_sent_bytes_total", "The size of total bytes sent during response in case of a TCP connection")
	t.tcpReceived = tcpCounter("istio_tcp_received_bytes_total", "The size of total bytes received during request in case of a TCP connection")
	t.tcpOpenGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "istio_tcp_sockets_open",
		Help: "The current number of open proxied connections"})
	for _, c := range []prometheus.Collector{t.requests, t.duration, t.requestSize, t.responseSize,
		t.tcpOpened, t.tcpClosed, t.tcpFailed, t.tcpSent, t.tcpReceived, t.tcpOpenGauge} {
		if err := t.registry.Register(c); err != nil {
			return nil, errors.Join(errors.New("waypoint telemetry: registering collectors"), err)
		}
	}
	return t, nil
}

// Registry is where the collectors live; serve it on :15020/metrics.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

func (t *Telemetry) dir() Directory {
	if t.directory == nil {
		return nil
	}
	d := t.directory()
	if s, ok := d.(*workloadapi.Snapshot); ok && s == nil { // a typed nil would panic on use
		return nil
	}
	return d
}

// milliseconds renders a duration as Envoy records it (whole milliseconds
// are what Envoy's histogram gets; we keep the fraction).
func milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
