package telemetry

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// testDirectory: client sleep-7d9 (ns clients, sa curl) at 10.1.0.5,
// httpbin-v1 (ns apps, sa httpbin) at 10.1.0.9 behind Service httpbin
// (VIP 10.96.0.10:8000), and a workload without canonical labels at 10.1.0.20.
func testDirectory(t testing.TB) *workloadapi.Snapshot {
	t.Helper()
	wl := func(name, ns, sa, ip, wname, canon, rev string) *workloadapi.Workload {
		return &workloadapi.Workload{UID: "uid-" + name, Name: name, Namespace: ns, ServiceAccount: sa,
			TrustDomain: "cluster.local", ClusterID: "Kubernetes", IPs: []netip.Addr{netip.MustParseAddr(ip)},
			Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy,
			WorkloadName: wname, CanonicalName: canon, CanonicalRevision: rev}
	}
	httpbin := wl("httpbin-v1-abc", "apps", "httpbin", "10.1.0.9", "httpbin-v1", "httpbin", "v1")
	httpbin.Services = map[workloadapi.ServiceKey]map[uint16]uint16{
		{Namespace: "apps", Hostname: "httpbin.apps.svc.cluster.local"}: {8000: 8080}}
	s, err := workloadapi.New([]*workloadapi.Workload{
		wl("sleep-7d9", "clients", "curl", "10.1.0.5", "sleep", "sleep", ""),
		httpbin,
		wl("bare", "apps", "default", "10.1.0.20", "", "", ""),
	}, []*workloadapi.Service{{Name: "httpbin", Namespace: "apps", Hostname: "httpbin.apps.svc.cluster.local",
		VIPs: []netip.Addr{netip.MustParseAddr("10.96.0.10")}, Ports: []workloadapi.Port{{ServicePort: 8000, TargetPort: 8080}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	curlID  = policy.NewIdentity("cluster.local", "clients", "curl")
	otherID = policy.NewIdentity("cluster.local", "evil", "mallory")
	vip     = netip.MustParseAddr("10.96.0.10")
	podHost = netip.MustParseAddrPort("10.1.0.9:8080")
)

func TestLabels(t *testing.T) {
	dir := testDirectory(t)
	peer := waypoint.Peer{SourceIP: netip.MustParseAddr("10.1.0.5"), Identity: curlID, DestinationIP: vip, DestPort: 8000}
	routed := waypoint.RecordView{HasBackend: true, UpstreamHost: podHost, Details: waypoint.DetailsViaUpstream,
		Backend: waypoint.Backend{ServiceHostname: "httpbin.apps.svc.cluster.local", ServiceNamespace: "apps", ServiceName: "httpbin", Port: 8000}}
	full := prometheus.Labels{
		"reporter":        "waypoint",
		"source_workload": "sleep", "source_canonical_service": "sleep", "source_canonical_revision": "latest",
		"source_workload_namespace": "clients", "source_principal": "spiffe://cluster.local/ns/clients/sa/curl",
		"source_app": "sleep", "source_version": "unknown", "source_cluster": "Kubernetes",
		"destination_service": "httpbin.apps.svc.cluster.local", "destination_service_namespace": "apps",
		"destination_service_name": "httpbin", "destination_workload": "httpbin-v1",
		"destination_canonical_service": "httpbin", "destination_canonical_revision": "v1",
		"destination_workload_namespace": "apps", "destination_principal": "spiffe://cluster.local/ns/apps/sa/httpbin",
		"destination_app": "httpbin", "destination_version": "v1", "destination_cluster": "Kubernetes",
		"request_protocol": "http", "response_code": "200", "grpc_response_status": "",
		"response_flags": "-", "connection_security_policy": "mutual_tls",
	}
	with := func(changes map[string]string) prometheus.Labels {
		l := prometheus.Labels{}
		for k, v := range full {
			l[k] = v
		}
		for k, v := range changes {
			l[k] = v
		}
		return l
	}
	unknownDest := map[string]string{"destination_workload": "unknown", "destination_canonical_service": "unknown",
		"destination_canonical_revision": "unknown", "destination_workload_namespace": "unknown",
		"destination_principal": "unknown", "destination_app": "unknown", "destination_version": "unknown",
		"destination_cluster": "unknown"}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		dir    Directory
		flow   flow
		status int
		grpc   string
		want   prometheus.Labels
	}{
		{name: "routed and answered", dir: dir, flow: flow{peer: peer, hasPeer: true, record: routed, protocol: "http"},
			status: 200, want: full},
		{name: "denied before routing: service from the VIP, no endpoint", dir: dir,
			flow:   flow{peer: peer, hasPeer: true, record: waypoint.RecordView{Details: waypoint.RBACDeniedDetails("")}, host: "httpbin:8000", protocol: "http"},
			status: 403, want: with(merge(unknownDest, map[string]string{"response_code": "403"}))},
		{name: "no route: NR flag, host header fallback for an unknown VIP", dir: dir,
			flow: flow{peer: waypoint.Peer{SourceIP: peer.SourceIP, Identity: curlID, DestinationIP: netip.MustParseAddr("10.96.9.9"), DestPort: 80},
				hasPeer: true, record: waypoint.RecordView{Flags: waypoint.FlagNoRouteFound}, host: "ghost:80", protocol: "http"},
			status: 404, want: with(merge(unknownDest, map[string]string{"response_code": "404", "response_flags": "NR",
				"destination_service": "ghost:80", "destination_service_name": "ghost:80", "destination_service_namespace": "unknown"}))},
		{name: "identity disagrees with the workload at the source IP", dir: dir,
			flow: flow{peer: waypoint.Peer{SourceIP: peer.SourceIP, Identity: otherID, DestinationIP: vip, DestPort: 8000},
				hasPeer: true, record: routed, protocol: "http"},
			status: 200, want: with(map[string]string{"source_workload": "unknown", "source_canonical_service": "unknown",
				"source_app": "unknown", "source_cluster": "unknown", "source_workload_namespace": "evil",
				"source_principal": "spiffe://cluster.local/ns/evil/sa/mallory"})},
		{name: "plaintext peer keeps the IP-resolved workload", dir: dir,
			flow:   flow{peer: waypoint.Peer{SourceIP: peer.SourceIP, DestinationIP: vip, DestPort: 8000}, hasPeer: true, record: routed, protocol: "http"},
			status: 200, want: with(map[string]string{"source_principal": "unknown", "connection_security_policy": "none"})},
		{name: "verified upstream principal wins; bare workload falls back to its pod name", dir: dir,
			flow: flow{peer: peer, hasPeer: true, protocol: "http", record: waypoint.RecordView{HasBackend: true, Backend: routed.Backend,
				UpstreamHost: netip.MustParseAddrPort("10.1.0.20:80"), UpstreamPrincipal: "spiffe://cluster.local/ns/apps/sa/verified"}},
			status: 200, want: with(map[string]string{"destination_workload": "bare", "destination_canonical_service": "unknown",
				"destination_canonical_revision": "unknown", "destination_app": "unknown", "destination_version": "unknown",
				"destination_principal": "spiffe://cluster.local/ns/apps/sa/verified"})},
		{name: "gRPC with flags", dir: dir,
			flow: flow{peer: peer, hasPeer: true, protocol: "grpc", record: waypoint.RecordView{HasBackend: true, Backend: routed.Backend,
				UpstreamHost: podHost, Flags: waypoint.FlagUpstreamConnectionFailure | waypoint.FlagUpstreamRetryLimitExceeded}},
			status: 503, grpc: "14", want: with(map[string]string{"request_protocol": "grpc", "response_code": "503",
				"grpc_response_status": "14", "response_flags": "UF,URX"})},
		{name: "no directory, no peer: everything unknown", dir: nil,
			flow:   flow{record: waypoint.RecordView{Flags: waypoint.FlagDownstreamConnectionTermination}, host: "", protocol: "http"},
			status: 0, want: with(merge(unknownDest, map[string]string{"source_workload": "unknown", "source_canonical_service": "unknown",
				"source_workload_namespace": "unknown", "source_principal": "unknown", "source_app": "unknown", "source_cluster": "unknown",
				"destination_service": "unknown", "destination_service_namespace": "unknown", "destination_service_name": "unknown",
				"response_code": "0", "response_flags": "DC", "connection_security_policy": "unknown"}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.flow.httpLabels(tc.dir, tc.status, tc.grpc)
			if len(got) != len(httpLabelNames) {
				t.Errorf("%d labels, want %d", len(got), len(httpLabelNames))
			}
			for _, k := range httpLabelNames {
				if got[k] != tc.want[k] {
					t.Errorf("%s = %q, want %q", k, got[k], tc.want[k])
				}
			}
		})
	}
}

func TestGRPCStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		grpc   bool
		header http.Header
		status int
		want   string
	}{
		{"not gRPC", false, http.Header{"Grpc-Status": {"5"}}, 200, ""},
		{"trailer", true, http.Header{"Grpc-Status": {"5"}}, 200, "5"},
		{"undeclared trailer", true, http.Header{http.TrailerPrefix + "Grpc-Status": {"7"}}, 200, "7"},
		{"garbage falls back to HTTP mapping", true, http.Header{"Grpc-Status": {"x"}}, 503, "14"},
		{"403 maps to PERMISSION_DENIED", true, nil, 403, "7"},
		{"401 maps to UNAUTHENTICATED", true, nil, 401, "16"},
		{"404 maps to UNIMPLEMENTED", true, nil, 404, "12"},
		{"400 maps to INTERNAL", true, nil, 400, "13"},
		{"200 without status is UNKNOWN", true, nil, 200, "2"},
		{"no response at all", true, nil, 0, ""},
	} {
		if got := grpcStatus(tc.grpc, tc.header, tc.status); got != tc.want {
			t.Errorf("%s: grpcStatus = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{"application/grpc": true, "application/grpc+proto": true,
		"application/grpc-web": false, "application/json": false, "": false} {
		r := &http.Request{Header: http.Header{"Content-Type": {ct}}}
		if got := isGRPC(r); got != want {
			t.Errorf("isGRPC(%q) = %v, want %v", ct, got, want)
		}
	}
}
