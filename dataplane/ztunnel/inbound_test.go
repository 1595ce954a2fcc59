package ztunnel

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

func principalPolicy(name string, action policy.Action, match policy.Match) *policy.Policy {
	return &policy.Policy{Name: name, Namespace: "default", Scope: policy.ScopeNamespace, Action: action,
		Rules: []policy.Rule{{Clauses: []policy.Clause{{Matches: []policy.Match{match}}}}}}
}

func fromPrincipal(sa string) policy.Match {
	return policy.Match{Principals: []policy.StringMatch{policy.Exact("cluster.local/ns/default/sa/" + sa)}}
}

func testID(sa string) identity.Identity {
	return identity.Identity{TrustDomain: "cluster.local", Namespace: "default", ServiceAccount: sa}
}

// TestInboundStatus drives the server pod's :15008 with a real HBONE
// client and checks each refusal's status and the reason the proxy logged
// (ambient-semantics.md §3.1; reliability H4, Z3).
func TestInboundStatus(t *testing.T) {
	m := newTestMesh(t)
	app := startApp(t, netip.MustParseAddr("127.0.0.3"))
	server := workload("server", "127.0.0.3", onNode("node-b"))
	client := workload("client", "127.0.0.2", onNode("node-a"))
	node := m.newNode(t, "node-b")
	node.proxy.UpdateState(snapshot(t, []*workloadapi.Workload{server, client}, nil))
	m.addPod(t, node, server)
	hb := m.hboneClient(t, netip.MustParseAddr("127.0.0.2"), testID("sa-client"), testID("sa-server"))
	target := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), m.hbonePort)
	appAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), app.port())
	closedPort := freePort(t)

	tests := []struct {
		name      string
		policies  []*policy.Policy
		drop      bool // the server's workload is no longer in state
		authority string
		status    int
		logged    string // in the WARN "connection failed" line
	}{
		{name: "no policy: allowed", authority: appAddr.String(), status: 200},
		{name: "allow matching principal", authority: appAddr.String(), status: 200,
			policies: []*policy.Policy{principalPolicy("allow-client", policy.ActionAllow, fromPrincipal("sa-client"))}},
		{name: "authority names another pod", authority: "127.0.0.4:" + strconv.Itoa(int(app.port())), status: 400},
		{name: "allow policies exist, none match", authority: appAddr.String(), status: 401,
			policies: []*policy.Policy{principalPolicy("allow-other", policy.ActionAllow, fromPrincipal("sa-other"))},
			logged:   `error="connection closed due to policy rejection: allow policies exist, but none allowed"`},
		{name: "explicit deny", authority: appAddr.String(), status: 401,
			policies: []*policy.Policy{principalPolicy("deny-client", policy.ActionDeny, fromPrincipal("sa-client"))},
			logged:   `error="connection closed due to policy rejection: explicitly denied by: default/deny-client"`},
		{name: "self-call to 15006", authority: "127.0.0.3:15006", status: 400, logged: "self-call"},
		{name: "upstream refuses", authority: "127.0.0.3:" + strconv.Itoa(int(closedPort)), status: 503, logged: "connection refused"},
		{name: "workload left the state", drop: true, authority: appAddr.String(), status: 503, logged: `error="workload not found"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := []*workloadapi.Workload{client, server}
			if tt.drop {
				ws = ws[:1]
			}
			node.proxy.UpdateState(snapshot(t, ws, nil, tt.policies...))
			before := app.accepted()
			s, err := hb.Connect(context.Background(), hbone.Request{Target: target, Authority: tt.authority})
			if tt.status == 200 {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				if seen := converse(t, s, []byte("ping")); !strings.HasPrefix(seen, "127.0.0.2:") {
					t.Errorf("app saw %s, want the client's IP", seen)
				}
				_ = s.Close()
				return
			}
			var se *hbone.StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Fatalf("Connect err = %v, want status %d", err, tt.status)
			}
			if tt.status != 503 && app.accepted() != before {
				t.Errorf("a refused CONNECT reached the app")
			}
			if tt.logged != "" {
				node.access.waitLines(t, "\twarn\taccess\tconnection failed\t", `direction="inbound"`, tt.logged)
			}
		})
	}
	flags := metricSum(t, node.proxy.Metrics().Registry, "istio_tcp_connections_failed_total",
		map[string]string{"reporter": "destination", "response_flags": "DENY", "source_principal": testID("sa-client").String()})
	if flags != 2 {
		t.Errorf("failed{response_flags=DENY} = %v, want 2", flags)
	}
}
