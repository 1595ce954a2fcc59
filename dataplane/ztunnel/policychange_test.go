package ztunnel

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// openLongLived opens a connection through the pods' proxies and keeps it
// after one round trip.
func openLongLived(t *testing.T, m *testMesh, from *testPod, dst netip.AddrPort) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c := m.dialOutbound(t, from, dst)
	br := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, br)
	return c, br
}

func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("round trip: %q, %v", buf, err)
	}
}

// TestPolicyChangeClosesDeniedConnections is reliability Z8: after a
// tightening update, the connection the policy now denies is closed with
// "policy change", the still-allowed one keeps working, and new
// connections from the denied source are refused.
func TestPolicyChangeClosesDeniedConnections(t *testing.T) {
	m := newTestMesh(t)
	app := startApp(t, netip.MustParseAddr("127.0.0.3"))
	ws := func() []*workloadapi.Workload {
		return []*workloadapi.Workload{
			workload("alice", "127.0.0.2", onNode("node-a")),
			workload("bob", "127.0.0.4", onNode("node-a")),
			workload("server", "127.0.0.3", onNode("node-b")),
		}
	}
	a, b := m.newNode(t, "node-a"), m.newNode(t, "node-b")
	st := snapshot(t, ws(), nil)
	a.proxy.UpdateState(st)
	b.proxy.UpdateState(st)
	get := func(ip string) *workloadapi.Workload { w, _ := st.WorkloadByIP(netip.MustParseAddr(ip)); return w }
	alice, bob := m.addPod(t, a, get("127.0.0.2")), m.addPod(t, a, get("127.0.0.4"))
	m.addPod(t, b, get("127.0.0.3"))
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), app.port())

	ca, _ := openLongLived(t, m, alice, dst)
	cb, brb := openLongLived(t, m, bob, dst)
	if n := b.proxy.conns.len(); n != 2 {
		t.Fatalf("connection manager tracks %d, want 2", n)
	}

	start := time.Now()
	allowBob := principalPolicy("allow-bob", policy.ActionAllow, fromPrincipal("sa-bob"))
	b.proxy.UpdateState(snapshot(t, ws(), nil, allowBob))

	_ = ca.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := ca.Read(make([]byte, 16)); err == nil {
		t.Fatalf("alice's connection still open after the policy change (read %d bytes)", n)
	}
	t.Logf("now-denied connection closed %v after the update", time.Since(start))
	roundTrip(t, cb, brb) // bob is untouched

	line := b.access.waitLines(t, `src.workload="alice"`, `direction="inbound"`)[0]
	if !strings.Contains(line, `error="connection closed due to policy change: allow policies exist, but none allowed"`) ||
		!strings.Contains(line, "\terror\taccess\tconnection complete\t") {
		t.Errorf("closed connection's access log:\n%s", line)
	}
	if len(b.logs.lines("policy change", "127.0.0.2")) != 1 {
		t.Errorf("no \"policy change\" log for alice:\n%s", b.logs)
	}
	if len(b.access.lines(`src.workload="bob"`)) != 0 {
		t.Errorf("bob's connection ended:\n%s", b.access)
	}

	// New connections from alice are now refused: the client sees a reset.
	m.expectRedirectedReset(t, alice.ip, alice.outbound, dst)
	a.access.waitLines(t, "connection failed", `src.workload="alice"`, "401")
	finish(t, cb)
}

// TestPassthroughPeerAuthentication is reliability Z1/Z4: plaintext from an
// uncaptured client on :15006 is allowed under PERMISSIVE, reset under
// STRICT (a DENY notPrincipals: [presence]), except on a portLevelMtls
// PERMISSIVE port (notDestinationPorts); the app keeps seeing the
// client's own IP.
func TestPassthroughPeerAuthentication(t *testing.T) {
	m := newTestMesh(t)
	strictPort, exemptPort := startApp(t, netip.MustParseAddr("127.0.0.3")), startApp(t, netip.MustParseAddr("127.0.0.3"))
	server := workload("server", "127.0.0.3", onNode("node-b"))
	node := m.newNode(t, "node-b")
	node.proxy.UpdateState(snapshot(t, []*workloadapi.Workload{server}, nil))
	pod := m.addPod(t, node, server)
	outsider := netip.MustParseAddr("127.0.0.9")
	to := func(a *testApp) netip.AddrPort { return netip.AddrPortFrom(pod.ip, a.port()) }

	// PERMISSIVE: both ports served, source preserved.
	for _, a := range []*testApp{strictPort, exemptPort} {
		c := m.dialPlaintext(t, outsider, pod, to(a))
		if seen := converse(t, c, []byte("hello")); !strings.HasPrefix(seen, "127.0.0.9:") {
			t.Fatalf("app saw %s, want the outsider's IP", seen)
		}
		finish(t, c)
	}

	strict := &policy.Policy{Name: "istio_converted_static_strict", Namespace: "istio-system", Scope: policy.ScopeGlobal,
		Action: policy.ActionDeny, Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{{
			NotPrincipals:       []policy.StringMatch{policy.Presence()},
			NotDestinationPorts: []uint16{exemptPort.port()},
		}}}}}}}
	node.proxy.UpdateState(snapshot(t, []*workloadapi.Workload{server}, nil, strict))
	before := strictPort.accepted()
	m.expectRedirectedReset(t, outsider, pod.plaintext, to(strictPort))
	node.access.waitLines(t, "connection failed", "explicitly denied by: istio-system/istio_converted_static_strict")
	if strictPort.accepted() != before {
		t.Error("a STRICT-denied plaintext connection reached the app")
	}
	c := m.dialPlaintext(t, outsider, pod, to(exemptPort))
	converse(t, c, []byte("exempt"))
	finish(t, c)
	line := node.access.waitLines(t, "connection complete", "dst.addr=127.0.0.3:"+itoa(int64(exemptPort.port())))
	if strings.Contains(line[len(line)-1], "src.identity") {
		t.Errorf("plaintext logged a source identity:\n%s", line[len(line)-1])
	}
	if got := metricSum(t, node.proxy.Metrics().Registry, "istio_tcp_connections_opened_total",
		map[string]string{"reporter": "destination", "connection_security_policy": "unknown"}); got != 4 {
		t.Errorf("plaintext opened = %v, want 4", got)
	}
}

// TestSameNodeFastPath: with both pods on one node, outbound becomes local
// inbound without HBONE (the server pod has no :15008 listener here), with
// the same policy and source preservation, reported by both reporters.
func TestSameNodeFastPath(t *testing.T) {
	m := newTestMesh(t)
	app := startApp(t, netip.MustParseAddr("127.0.0.3"))
	ws := func() []*workloadapi.Workload {
		return []*workloadapi.Workload{
			workload("client", "127.0.0.2", onNode("node-a")),
			workload("server", "127.0.0.3", onNode("node-a")),
		}
	}
	n := m.newNode(t, "node-a")
	st := snapshot(t, ws(), nil)
	n.proxy.UpdateState(st)
	get := func(ip string) *workloadapi.Workload { w, _ := st.WorkloadByIP(netip.MustParseAddr(ip)); return w }
	client := m.addPod(t, n, get("127.0.0.2"))
	m.addPod(t, n, get("127.0.0.3"), withoutInbound)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), app.port())

	c := m.dialOutbound(t, client, dst)
	if seen := converse(t, c, []byte("local")); !strings.HasPrefix(seen, "127.0.0.2:") {
		t.Fatalf("app saw %s", seen)
	}
	finish(t, c)
	n.access.waitLines(t, "connection complete", `direction="outbound"`, `src.identity="spiffe://cluster.local/ns/default/sa/sa-client"`)
	n.access.waitLines(t, "connection complete", `direction="inbound"`, `dst.identity="spiffe://cluster.local/ns/default/sa/sa-server"`)

	n.proxy.UpdateState(snapshot(t, ws(), nil, principalPolicy("deny-client", policy.ActionDeny, fromPrincipal("sa-client"))))
	m.expectRedirectedReset(t, client.ip, client.outbound, dst)
	n.access.waitLines(t, "connection failed", `direction="inbound"`, "explicitly denied by: default/deny-client")
}
