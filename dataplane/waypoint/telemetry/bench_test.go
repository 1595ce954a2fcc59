package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/telemetry"
)

// BenchmarkWrap is the per-request cost of the middleware alone: label
// resolution against the workload API snapshot, four metric updates and an
// access log line (discarded), around a handler that routes and answers.
func BenchmarkWrap(b *testing.B) {
	snap := directory(b)
	tel, err := telemetry.New(telemetry.Config{Directory: func() telemetry.Directory { return snap }})
	if err != nil {
		b.Fatal(err)
	}
	h := tel.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := waypoint.RecordFromContext(r.Context())
		rec.SetBackend(httpbin)
		rec.SetUpstream(podHost, "")
		_, _ = io.WriteString(w, "ok")
	}))
	ctx := waypoint.WithPeer(context.Background(), waypoint.Peer{SourceIP: clientIP, Identity: curlID, DestinationIP: vip, DestPort: 8000})
	req := httptest.NewRequest("GET", "/get", nil).WithContext(ctx)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
