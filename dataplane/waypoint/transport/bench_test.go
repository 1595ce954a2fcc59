package transport_test

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkHTTPThroughWaypoint is one GET on a kept-alive connection: client
// ztunnel → waypoint (HBONE termination, the full L7 chain with a DENY
// policy evaluated, router, forwarder) → HBONE as the waypoint → destination
// ztunnel → backend, all in one process over loopback with real TLS.
func BenchmarkHTTPThroughWaypoint(b *testing.B) {
	for _, tc := range []struct {
		name string
		h2   bool
	}{{"http1", false}, {"h2c", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b)
			f.setPolicies(denyPath("/admin"))
			c := f.client.HTTP("198.19.0.10:8000", tc.h2)
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, "http://httpbin.demo:8000/get", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
