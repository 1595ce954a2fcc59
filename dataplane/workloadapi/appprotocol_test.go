package workloadapi

import (
	"testing"

	"istio.io/istio/pkg/workloadapi"
)

// A waypoint chooses L7 or L4 per Service port from app_protocol, so the
// conversion must keep it, and a value from a newer istiod must degrade to
// UNKNOWN (TCP) rather than fail the whole update.
func TestAppProtocolConverted(t *testing.T) {
	for _, tc := range []struct {
		wire workloadapi.AppProtocol
		want AppProtocol
	}{
		{workloadapi.AppProtocol_UNKNOWN, AppProtocolUnknown},
		{workloadapi.AppProtocol_HTTP11, AppProtocolHTTP11},
		{workloadapi.AppProtocol_HTTP2, AppProtocolHTTP2},
		{workloadapi.AppProtocol_GRPC, AppProtocolGRPC},
		{workloadapi.AppProtocol_TCP, AppProtocolTCP},
		{workloadapi.AppProtocol_TLS, AppProtocolTLS},
		{workloadapi.AppProtocol(99), AppProtocolUnknown},
	} {
		svc := wireService("demo", "api", "198.19.0.10", 80, 8080)
		svc.Ports[0].AppProtocol = tc.wire
		s, err := FromWire([]*workloadapi.Address{asService(svc)}, nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.wire, err)
		}
		got, _ := s.ServiceByHostname("api.demo.svc.cluster.local")
		if got == nil || got.Ports[0].AppProtocol != tc.want {
			t.Errorf("wire %v: converted to %+v, want %v", tc.wire, got, tc.want)
		}
	}
}
