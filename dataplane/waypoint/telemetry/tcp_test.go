package telemetry_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/telemetry"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel"
)

func TestTCPConnections(t *testing.T) {
	log := &logBuffer{}
	clock := &stepClock{base: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC), step: 3 * time.Millisecond}
	snap := directory(t)
	tel, err := telemetry.New(telemetry.Config{
		AccessLog: slog.New(ztunnel.NewAccessLogHandler(log, false, func() time.Time { return clock.base })),
		Directory: func() telemetry.Directory { return snap },
		Now:       clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	peer := waypoint.Peer{SourceIP: clientIP, Identity: curlID, DestinationIP: vip, DestPort: 8000}

	okRec := &waypoint.Record{}
	okRec.SetBackend(httpbin)
	okRec.SetUpstream(podHost, "spiffe://cluster.local/ns/apps/sa/httpbin")
	ok := tel.OpenTCP(peer, okRec)

	failRec := &waypoint.Record{}
	failed := tel.OpenTCP(peer, failRec)
	if got := find(t, scrape(t, tel.Registry()), "istio_tcp_sockets_open", nil); got != 2 {
		t.Errorf("sockets open = %v, want 2", got)
	}
	ok.Complete(1000, 250, nil)
	ok.Complete(1, 1, nil) // ignored: a connection ends once
	failRec.AddFlags(waypoint.FlagNoHealthyUpstream)
	failed.Fail(errors.New("no healthy endpoint for httpbin.apps.svc.cluster.local"))

	samples := scrape(t, tel.Registry())
	base := map[string]string{"reporter": "waypoint", "request_protocol": "tcp", "connection_security_policy": "mutual_tls",
		"source_workload": "sleep", "source_principal": "spiffe://cluster.local/ns/clients/sa/curl",
		"destination_service": "httpbin.apps.svc.cluster.local", "destination_service_name": "httpbin"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range []map[string]string{base, extra} {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	okL := with(map[string]string{"response_flags": "-", "destination_workload": "httpbin-v1"})
	failL := with(map[string]string{"response_flags": "UH", "destination_workload": "unknown"})
	for _, c := range []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"istio_tcp_connections_opened_total", okL, 1},
		{"istio_tcp_connections_closed_total", okL, 1},
		{"istio_tcp_received_bytes_total", okL, 1000},
		{"istio_tcp_sent_bytes_total", okL, 250},
		{"istio_tcp_connections_failed_total", failL, 1},
		{"istio_tcp_connections_closed_total", failL, 1},
		// opened before the flag was known: the open is counted without it.
		{"istio_tcp_connections_opened_total", with(map[string]string{"response_flags": "-", "destination_workload": "unknown"}), 1},
		{"istio_tcp_sockets_open", nil, 0},
	} {
		if got := find(t, samples, c.metric, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	for _, s := range samples {
		if s.name == "istio_tcp_connections_failed_total" && s.labels["response_flags"] == "-" {
			t.Errorf("a completed connection counted as failed: %v", s.labels)
		}
	}

	line := log.line(t, "connection complete")
	assertContains(t, line, "\tinfo\taccess\tconnection complete\t", "src.addr=10.1.0.5 ", `src.workload="sleep-7d9"`,
		"dst.addr=10.1.0.9:15008", "dst.hbone_addr=10.1.0.9:8080", `dst.service="httpbin.apps.svc.cluster.local"`,
		`dst.workload="httpbin-v1-abc"`, `dst.identity="spiffe://cluster.local/ns/apps/sa/httpbin"`,
		"bytes_sent=1000 bytes_recv=250", `duration="6ms"`) // opened at tick 1, closed at tick 3
	line = log.line(t, "connection failed")
	assertContains(t, line, "\twarn\taccess\tconnection failed\t", `response_flags="UH"`, "dst.addr=10.96.0.10:8000",
		`error="no healthy endpoint for httpbin.apps.svc.cluster.local"`)
}

func TestDuplicateRegistrationIsAnError(t *testing.T) {
	tel, err := telemetry.New(telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := telemetry.New(telemetry.Config{Registry: tel.Registry()}); err == nil {
		t.Fatal("a second Telemetry on the same registry was accepted")
	}
}

// TestJSONAccessLog: LOG_FORMAT=json keeps the same dotted keys plus level,
// time, scope and message (ambient-semantics §13).
func TestJSONAccessLog(t *testing.T) {
	log := &logBuffer{}
	tel, err := telemetry.New(telemetry.Config{AccessLog: slog.New(ztunnel.NewAccessLogHandler(log, true, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := &waypoint.Record{}
	rec.AddFlags(waypoint.FlagUpstreamConnectionFailure)
	tel.OpenTCP(waypoint.Peer{SourceIP: clientIP, Identity: curlID, DestinationIP: vip, DestPort: 8000}, rec).
		Fail(errors.New("dial 10.1.0.9:15008: connection refused"))
	var got map[string]any
	if err := json.Unmarshal([]byte(log.line(t, "connection failed")), &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"scope": "access", "level": "warn", "message": "connection failed",
		"src.addr": "10.1.0.5", "src.identity": "spiffe://cluster.local/ns/clients/sa/curl", "dst.addr": "10.96.0.10:8000",
		"response_flags": "UF", "bytes_sent": float64(0), "error": "dial 10.1.0.9:15008: connection refused"} {
		if got[k] != want {
			t.Errorf("%s = %#v, want %#v", k, got[k], want)
		}
	}
	if _, ok := got["time"]; !ok {
		t.Error("no time key")
	}
}

// TestNoSnapshotYet: before the first xDS push the ADS client's current
// snapshot is a nil *workloadapi.Snapshot; labels fall back to unknown.
func TestNoSnapshotYet(t *testing.T) {
	tel, err := telemetry.New(telemetry.Config{Directory: func() telemetry.Directory { return (*workloadapi.Snapshot)(nil) }})
	if err != nil {
		t.Fatal(err)
	}
	rec := &waypoint.Record{}
	rec.SetUpstream(podHost, "")
	tel.OpenTCP(waypoint.Peer{SourceIP: clientIP, Identity: curlID, DestinationIP: vip, DestPort: 8000}, rec).Complete(1, 2, nil)
	if got := find(t, scrape(t, tel.Registry()), "istio_tcp_connections_closed_total", map[string]string{
		"source_workload": "unknown", "destination_workload": "unknown", "destination_service": "unknown",
		"source_principal": "spiffe://cluster.local/ns/clients/sa/curl"}); got != 1 {
		t.Errorf("closed = %v", got)
	}
}
