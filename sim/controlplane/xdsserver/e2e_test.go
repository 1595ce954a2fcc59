package xdsserver

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/xds"
)

func wl(uid, addr string) *workloadapi.Address {
	return &workloadapi.Address{Type: &workloadapi.Address_Workload{Workload: &workloadapi.Workload{
		Uid: uid, Name: uid, Namespace: "demo", ServiceAccount: "default", Node: "node-0",
		Addresses: [][]byte{netip.MustParseAddr(addr).AsSlice()}, TunnelProtocol: workloadapi.TunnelProtocol_HBONE,
	}}}
}

func denyAll(name string) *security.Authorization {
	return &security.Authorization{Name: name, Namespace: "demo", Scope: security.Scope_NAMESPACE,
		Action: security.Action_DENY, Groups: []*security.Group{{}}}
}

// testServer is a Server on a real 127.0.0.1 listener that can be stopped and
// started again on the same address.
type testServer struct {
	t    *testing.T
	srv  *Server
	addr string
	g    *grpc.Server
	wg   sync.WaitGroup
}

func startServer(t *testing.T, addr string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: New(nil), addr: ln.Addr().String(), g: grpc.NewServer()}
	ts.srv.Register(ts.g)
	ts.wg.Add(1)
	go func() { defer ts.wg.Done(); ts.g.Serve(ln) }()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	ts.g.Stop()
	ts.wg.Wait()
	ts.srv.Close()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startClient(t *testing.T, addr string) *xds.ADSClient {
	t.Helper()
	c, err := xds.NewADSClient(xds.ADSConfig{Address: addr, NodeID: "ztunnel~node-0", NodeName: "node-0",
		MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

func TestDeltaRoundTrip(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	if err := ts.srv.Update([]*workloadapi.Address{wl("a", "198.19.0.2"), wl("b", "198.19.0.3")}, nil); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, ts.addr)
	select {
	case <-c.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("client never synced")
	}
	if _, ok := c.Current().WorkloadByIP(netip.MustParseAddr("198.19.0.3")); !ok {
		t.Fatal("initial snapshot lacks workload b")
	}
	eventually(t, "in sync", ts.srv.InSync)
	if cs := ts.srv.Connections(); len(cs) != 1 || cs[0].NodeName != "node-0" {
		t.Fatalf("connections = %+v", cs)
	}

	t.Run("applied policy arrives as an incremental update", func(t *testing.T) {
		ts.srv.Update([]*workloadapi.Address{wl("a", "198.19.0.2"), wl("b", "198.19.0.3")}, []*security.Authorization{denyAll("deny")})
		eventually(t, "policy", func() bool { _, ok := c.Current().Policies().Get("demo/deny"); return ok })
		eventually(t, "in sync", ts.srv.InSync)
		st := ts.srv.Connections()[0].Types
		if a := st[xds.TypeAuthorization]; a.LastAdded != 1 || a.LastRemoved != 0 {
			t.Errorf("authorization push = %+v, want 1 added", a)
		}
		if a := st[xds.TypeAddress]; a.ACKs != 1 {
			t.Errorf("addresses were pushed again: %+v", a)
		}
	})
	t.Run("deleted policy is removed", func(t *testing.T) {
		ts.srv.Update([]*workloadapi.Address{wl("a", "198.19.0.2"), wl("b", "198.19.0.3")}, nil)
		eventually(t, "policy removal", func() bool { return c.Current().Policies().Len() == 0 })
		eventually(t, "in sync", ts.srv.InSync)
		if a := ts.srv.Connections()[0].Types[xds.TypeAuthorization]; a.LastRemoved != 1 || a.LastAdded != 0 {
			t.Errorf("authorization push = %+v, want 1 removed", a)
		}
	})
	t.Run("bad resource is NACKed and the previous snapshot kept", func(t *testing.T) {
		before := c.Current()
		bad := wl("bad", "198.19.0.9")
		bad.GetWorkload().Addresses = [][]byte{{1, 2, 3}}
		ts.srv.Update([]*workloadapi.Address{wl("a", "198.19.0.2"), bad}, nil)
		eventually(t, "NACK", func() bool { return ts.srv.Connections()[0].Types[xds.TypeAddress].NACKs == 1 })
		st := ts.srv.Connections()[0].Types[xds.TypeAddress]
		if !strings.Contains(st.LastNACK, `"bad"`) {
			t.Errorf("NACK detail %q does not name the resource", st.LastNACK)
		}
		if c.Current() != before || c.Status().NACKs != 1 {
			t.Errorf("client replaced its snapshot after a NACK (status %+v)", c.Status())
		}
		if ts.srv.InSync() {
			t.Errorf("server reports in sync after a NACK")
		}
		// A fixed update is accepted again.
		ts.srv.Update([]*workloadapi.Address{wl("a", "198.19.0.2"), wl("c", "198.19.0.4")}, nil)
		eventually(t, "recovery", func() bool { _, ok := c.Current().WorkloadByUID("c"); return ok })
		if _, ok := c.Current().WorkloadByUID("b"); ok {
			t.Errorf("workload b not removed")
		}
	})
	t.Run("server gone: last snapshot kept, reconnects when it returns", func(t *testing.T) {
		last := c.Current()
		ts.stop()
		eventually(t, "disconnect", func() bool { return !c.Status().Connected })
		if c.Current() != last {
			t.Fatal("snapshot changed while disconnected")
		}
		ts2 := startServer(t, ts.addr)
		ts2.srv.Update([]*workloadapi.Address{wl("a", "198.19.0.2"), wl("d", "198.19.0.5")}, nil)
		eventually(t, "reconnect and resync", func() bool { _, ok := c.Current().WorkloadByUID("d"); return ok })
		eventually(t, "in sync", ts2.srv.InSync)
		if _, ok := c.Current().WorkloadByUID("c"); ok {
			t.Errorf("workload c survived a resync that no longer has it")
		}
		// The client reported what it held, so "a" was not resent.
		if a := ts2.srv.Connections()[0].Types[xds.TypeAddress]; a.LastAdded != 1 || a.LastRemoved != 1 {
			t.Errorf("resync push = %+v, want 1 added (d), 1 removed (c)", a)
		}
	})
}
