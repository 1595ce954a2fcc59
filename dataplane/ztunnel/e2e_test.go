package ztunnel

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// twoNodes: client 127.0.0.2 on node-a, server 127.0.0.3 (with its app) on
// node-b, Service echo VIP 10.96.0.1:80 → the app's port.
type twoNodes struct {
	mesh           *testMesh
	a, b           *testNode
	client, server *testPod
	app            *testApp
	state          func(extra ...*workloadapi.Workload) *workloadapi.Snapshot
	svc            *workloadapi.Service
}

func newTwoNodes(t testing.TB) *twoNodes {
	t.Helper()
	m := newTestMesh(t)
	app := startApp(t, netip.MustParseAddr("127.0.0.3"))
	svc := service("echo", "10.96.0.1", 80, app.port())
	mk := func() []*workloadapi.Workload {
		return []*workloadapi.Workload{
			workload("client", "127.0.0.2", onNode("node-a")),
			workload("server", "127.0.0.3", onNode("node-b"), backs("echo", nil)),
		}
	}
	tn := &twoNodes{mesh: m, app: app, svc: svc}
	tn.state = func(extra ...*workloadapi.Workload) *workloadapi.Snapshot {
		return snapshot(t, append(mk(), extra...), []*workloadapi.Service{service("echo", "10.96.0.1", 80, app.port())})
	}
	tn.a, tn.b = m.newNode(t, "node-a"), m.newNode(t, "node-b")
	st := tn.state()
	tn.a.proxy.UpdateState(st)
	tn.b.proxy.UpdateState(st)
	w := func(ip string) *workloadapi.Workload { x, _ := st.WorkloadByIP(netip.MustParseAddr(ip)); return x }
	tn.client = m.addPod(t, tn.a, w("127.0.0.2"))
	tn.server = m.addPod(t, tn.b, w("127.0.0.3"))
	return tn
}

// TestEndToEndHBONE: app → :15001 on node-a → HBONE (mTLS, source pod's
// SVID) → :15008 on node-b → app, with the client IP preserved, and the
// telemetry of both sides.
func TestEndToEndHBONE(t *testing.T) {
	tn := newTwoNodes(t)
	c := tn.mesh.dialOutbound(t, tn.client, netip.MustParseAddrPort("10.96.0.1:80"))
	payload := bytes.Repeat([]byte("x"), 1000)
	defer func() {
		if t.Failed() {
			t.Logf("node-a access:\n%s\nnode-a logs:\n%s\nnode-b access:\n%s\nnode-b logs:\n%s", tn.a.access, tn.a.logs, tn.b.access, tn.b.logs)
		}
	}()
	seen := converse(t, c, payload)
	if got := netip.MustParseAddrPort(seen).Addr().String(); got != "127.0.0.2" {
		t.Fatalf("app saw client %s, want 127.0.0.2 (source preserved)", seen)
	}
	finish(t, c)

	greeting := int64(len("from=" + seen + "\n"))
	clientID, serverID := "spiffe://cluster.local/ns/default/sa/sa-client", "spiffe://cluster.local/ns/default/sa/sa-server"
	out := tn.a.access.waitLines(t, "connection complete", `direction="outbound"`)[0]
	in := tn.b.access.waitLines(t, "connection complete", `direction="inbound"`)[0]
	for _, want := range []string{
		"\tinfo\taccess\tconnection complete\t", `src.workload="client"`, `src.identity="` + clientID + `"`,
		`dst.identity="` + serverID + `"`, `dst.workload="server"`, `dst.service="echo.default.svc.cluster.local"`,
		"dst.addr=127.0.0.3:", "dst.hbone_addr=127.0.0.3:", "bytes_sent=1000 ", "bytes_recv=" + itoa(1000+greeting) + " ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("outbound access log lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{`src.identity="` + clientID + `"`, `dst.identity="` + serverID + `"`, "src.addr=127.0.0.2:", "bytes_sent=1000 "} {
		if !strings.Contains(in, want) {
			t.Errorf("inbound access log lacks %q:\n%s", want, in)
		}
	}
	if strings.Contains(out, "error=") || strings.Contains(in, "error=") {
		t.Errorf("clean connection logged an error:\n%s\n%s", out, in)
	}

	src := map[string]string{"reporter": "source", "connection_security_policy": "mutual_tls",
		"source_principal": clientID, "destination_principal": serverID, "source_workload": "client",
		"destination_workload": "server", "destination_service": "echo.default.svc.cluster.local",
		"destination_service_name": "echo", "request_protocol": "tcp", "response_flags": "-"}
	dst := map[string]string{"reporter": "destination", "connection_security_policy": "mutual_tls",
		"source_principal": clientID, "destination_principal": serverID}
	ra, rb := tn.a.proxy.Metrics().Registry, tn.b.proxy.Metrics().Registry
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"source opened", metricSum(t, ra, "istio_tcp_connections_opened_total", src), 1},
		{"source closed", metricSum(t, ra, "istio_tcp_connections_closed_total", src), 1},
		// reporter=source swaps the byte counters (istio#32399).
		{"source received bytes", metricSum(t, ra, "istio_tcp_received_bytes_total", src), float64(1000 + greeting)},
		{"source sent bytes", metricSum(t, ra, "istio_tcp_sent_bytes_total", src), 1000},
		{"destination opened", metricSum(t, rb, "istio_tcp_connections_opened_total", dst), 1},
		{"destination received bytes", metricSum(t, rb, "istio_tcp_received_bytes_total", dst), 1000},
		{"destination sent bytes", metricSum(t, rb, "istio_tcp_sent_bytes_total", dst), float64(1000 + greeting)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestOutboundRefusalsAndPassthrough: off-mesh destinations pass through
// in plaintext from the pod's address; illegal ports and Services without
// endpoints are reset with a WARN "connection failed" naming the reason.
func TestOutboundRefusalsAndPassthrough(t *testing.T) {
	tn := newTwoNodes(t)
	external := startApp(t, netip.MustParseAddr("127.0.0.8")) // not in the mesh
	c := tn.mesh.dialOutbound(t, tn.client, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.8"), external.port()))
	if seen := converse(t, c, []byte("hi")); !strings.HasPrefix(seen, "127.0.0.2:") {
		t.Fatalf("passthrough reached the app from %s, want the pod's own IP", seen)
	}
	finish(t, c)
	line := tn.a.access.waitLines(t, "connection complete", "dst.addr=127.0.0.8:")[0]
	if strings.Contains(line, "src.identity") || strings.Contains(line, "dst.identity") {
		t.Errorf("plaintext passthrough logged identities:\n%s", line)
	}
	if got := metricSum(t, tn.a.proxy.Metrics().Registry, "istio_tcp_connections_opened_total",
		map[string]string{"connection_security_policy": "unknown", "destination_workload": "unknown"}); got != 1 {
		t.Errorf("passthrough opened{security=unknown} = %v", got)
	}

	empty := snapshot(t, []*workloadapi.Workload{
		workload("client", "127.0.0.2", onNode("node-a")),
		workload("server", "127.0.0.3", onNode("node-b"), backs("echo", nil)),
	}, []*workloadapi.Service{tn.svc, service("empty", "10.96.0.2", 80, 80)})
	tn.a.proxy.UpdateState(empty)
	for _, tc := range []struct{ dst, reason string }{
		{"127.0.0.3:15008", "IllegalPort"},
		{"10.96.0.1:15001", "IllegalPort"},
		{"10.96.0.2:80", "NoHealthyUpstream"},
		{"10.96.0.1:81", "NoHealthyUpstream"},
	} {
		tn.mesh.expectRedirectedReset(t, tn.client.ip, tn.client.outbound, netip.MustParseAddrPort(tc.dst))
		tn.a.access.waitLines(t, "\twarn\taccess\tconnection failed\t", `error="`+tc.reason)
	}
}

func itoa(n int64) string { return fmtInt(n) }

// TestLazyLoading (ambient-semantics.md §14): a pod served before its
// workload reaches the state has its connections held, then forwarded once
// the state arrives.
func TestLazyLoading(t *testing.T) {
	m := newTestMesh(t)
	app := startApp(t, netip.MustParseAddr("127.0.0.3"))
	ws := []*workloadapi.Workload{
		workload("client", "127.0.0.2", onNode("node-a")),
		workload("server", "127.0.0.3", onNode("node-b")),
	}
	a, b := m.newNode(t, "node-a"), m.newNode(t, "node-b")
	full := snapshot(t, ws, nil)
	b.proxy.UpdateState(full)
	m.addPod(t, b, ws[1])
	client := m.addPod(t, a, ws[0]) // node-a knows nothing yet
	if a.proxy.Ready() {
		t.Fatal("ready before any state")
	}
	c := m.dialOutbound(t, client, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), app.port()))
	time.Sleep(50 * time.Millisecond) // the connection is now waiting in the proxy
	a.proxy.UpdateState(full)
	if seen := converse(t, c, []byte("late")); !strings.HasPrefix(seen, "127.0.0.2:") {
		t.Fatalf("app saw %s", seen)
	}
	finish(t, c)
}

// TestWrongDestinationIdentity is reliability H10: the destination proves
// an identity other than the one the source's state expects, so the
// source aborts the handshake, the app is never reached, and the client
// is reset; the failure is logged with response_flags TLS_FAILURE.
func TestWrongDestinationIdentity(t *testing.T) {
	tn := newTwoNodes(t)
	impostor := workload("server", "127.0.0.3", onNode("node-b"), backs("echo", nil))
	impostor.ServiceAccount = "sa-expected" // what node-a believes
	tn.a.proxy.UpdateState(snapshot(t, []*workloadapi.Workload{workload("client", "127.0.0.2", onNode("node-a")), impostor},
		[]*workloadapi.Service{tn.svc}))
	before := tn.app.accepted()
	tn.mesh.expectRedirectedReset(t, tn.client.ip, tn.client.outbound, netip.MustParseAddrPort("10.96.0.1:80"))
	line := tn.a.access.waitLines(t, "connection failed", `dst.identity="spiffe://cluster.local/ns/default/sa/sa-expected"`)[0]
	if !strings.Contains(line, "identity") || !strings.Contains(line, "sa-server") {
		t.Errorf("log does not explain the identity mismatch:\n%s", line)
	}
	if got := metricSum(t, tn.a.proxy.Metrics().Registry, "istio_tcp_connections_failed_total",
		map[string]string{"response_flags": "TLS_FAILURE"}); got != 1 {
		t.Errorf("failed{TLS_FAILURE} = %v, want 1", got)
	}
	if tn.app.accepted() != before {
		t.Error("the app was reached through an unverified peer")
	}
}
