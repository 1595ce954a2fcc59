package xdsserver

import (
	"context"
	"net/netip"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	status "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/istio/pkg/workloadapi"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
)

func snapshot(ns, name string, services ...string) *config.Snapshot {
	s := &config.Snapshot{Version: config.Version, Gateway: config.GatewayRef{Namespace: ns, Name: name}, For: "service"}
	for i, svc := range services {
		s.Services = append(s.Services, config.Service{Namespace: ns, Name: svc, Hostname: svc + "." + ns + ".svc.cluster.local",
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{198, 18, 16, byte(20 + i)})}})
	}
	return s
}

// waypointStream is a raw delta ADS stream, as a waypoint process opens it.
type waypointStream struct {
	t      *testing.T
	stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	resps  chan *discovery.DeltaDiscoveryResponse
}

func dialWaypoint(t *testing.T, addr string) *waypointStream {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws := &waypointStream{t: t, stream: stream, resps: make(chan *discovery.DeltaDiscoveryResponse, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			ws.resps <- r
		}
	}()
	t.Cleanup(func() { cancel(); cc.Close(); <-done })
	return ws
}

func (ws *waypointStream) send(req *discovery.DeltaDiscoveryRequest) {
	ws.t.Helper()
	if err := ws.stream.Send(req); err != nil {
		ws.t.Fatal(err)
	}
}

func (ws *waypointStream) recv(url string) *discovery.DeltaDiscoveryResponse {
	ws.t.Helper()
	for {
		select {
		case r := <-ws.resps:
			if r.GetTypeUrl() == url {
				return r
			}
		case <-time.After(10 * time.Second):
			ws.t.Fatalf("no %s response", url)
		}
	}
}

// noMore asserts that no response of url arrives for a short while.
func (ws *waypointStream) noMore(url string) {
	ws.t.Helper()
	deadline := time.After(200 * time.Millisecond)
	for {
		select {
		case r := <-ws.resps:
			if r.GetTypeUrl() == url {
				ws.t.Fatalf("unexpected %s push: %v", url, r)
			}
		case <-deadline:
			return
		}
	}
}

func decodeSnapshot(t *testing.T, r *discovery.Resource) *config.Snapshot {
	t.Helper()
	if r.GetResource().GetTypeUrl() != config.TypeURL {
		t.Fatalf("resource %s has type %s", r.GetName(), r.GetResource().GetTypeUrl())
	}
	var b wrapperspb.BytesValue
	if err := proto.Unmarshal(r.GetResource().GetValue(), &b); err != nil {
		t.Fatal(err)
	}
	s, err := config.Unmarshal(b.GetValue())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ack(url string, r *discovery.DeltaDiscoveryResponse) *discovery.DeltaDiscoveryRequest {
	return &discovery.DeltaDiscoveryRequest{TypeUrl: url, ResponseNonce: r.GetNonce()}
}

// TestWaypointConfigByName: a waypoint subscribes to its own config by name
// on the same stream as the workload API, gets only that resource, gets
// every change to it, and a NACK keeps it out of sync until a good update.
func TestWaypointConfigByName(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	addrs := []*workloadapi.Address{wl("a", "198.19.0.2")}
	if err := ts.srv.Update(addrs, nil, snapshot("app", "wp", "api"), snapshot("app", "other")); err != nil {
		t.Fatal(err)
	}
	ws := dialWaypoint(t, ts.addr)
	ws.send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeAddress})
	addrResp := ws.recv(typeAddress)
	ws.send(ack(typeAddress, addrResp))
	ws.send(&discovery.DeltaDiscoveryRequest{TypeUrl: config.TypeURL, ResourceNamesSubscribe: []string{"app/wp"}})
	r := ws.recv(config.TypeURL)
	if len(r.GetResources()) != 1 || r.GetResources()[0].GetName() != "app/wp" {
		t.Fatalf("initial waypoint push = %v, want app/wp only", r.GetResources())
	}
	if s := decodeSnapshot(t, r.GetResources()[0]); len(s.Services) != 1 || s.Services[0].Name != "api" {
		t.Fatalf("snapshot = %+v", s)
	}
	ws.send(ack(config.TypeURL, r))
	eventually(t, "in sync", ts.srv.InSync)
	st := ts.srv.Connections()[0].Types[config.TypeURL]
	if len(st.Names) != 1 || st.Names[0] != "app/wp" || st.ACKs != 1 {
		t.Fatalf("waypoint type status = %+v", st)
	}

	t.Run("a change to another waypoint is not pushed", func(t *testing.T) {
		ts.srv.Update(addrs, nil, snapshot("app", "wp", "api"), snapshot("app", "other", "x"))
		ws.noMore(config.TypeURL)
		eventually(t, "in sync", ts.srv.InSync)
	})
	t.Run("a change to its own config is pushed", func(t *testing.T) {
		ts.srv.Update(addrs, nil, snapshot("app", "wp", "api", "billing"), snapshot("app", "other", "x"))
		r := ws.recv(config.TypeURL)
		if len(r.GetResources()) != 1 || len(decodeSnapshot(t, r.GetResources()[0]).Services) != 2 {
			t.Fatalf("push = %v", r)
		}
		ws.send(ack(config.TypeURL, r))
		eventually(t, "in sync", ts.srv.InSync)
	})
	t.Run("NACK: out of sync, no resend of the same generation", func(t *testing.T) {
		ts.srv.Update(addrs, nil, snapshot("app", "wp", "api"), snapshot("app", "other", "x"))
		r := ws.recv(config.TypeURL)
		ws.send(&discovery.DeltaDiscoveryRequest{TypeUrl: config.TypeURL, ResponseNonce: r.GetNonce(),
			ErrorDetail: &status.Status{Code: 3, Message: "waypoint config: app/wp rejected"}})
		eventually(t, "NACK recorded", func() bool { return ts.srv.Connections()[0].Types[config.TypeURL].NACKs == 1 })
		if ts.srv.InSync() {
			t.Fatal("in sync after a NACK")
		}
		ws.noMore(config.TypeURL)
		ts.srv.Update(addrs, nil, snapshot("app", "wp"), snapshot("app", "other", "x"))
		r = ws.recv(config.TypeURL)
		ws.send(ack(config.TypeURL, r))
		eventually(t, "in sync again", ts.srv.InSync)
	})
	t.Run("subscribing to another name sends it; unsubscribing stops updates", func(t *testing.T) {
		ws.send(&discovery.DeltaDiscoveryRequest{TypeUrl: config.TypeURL, ResourceNamesSubscribe: []string{"app/other"},
			ResourceNamesUnsubscribe: []string{"app/wp"}})
		r := ws.recv(config.TypeURL)
		if len(r.GetResources()) != 1 || r.GetResources()[0].GetName() != "app/other" || len(r.GetRemovedResources()) != 0 {
			t.Fatalf("push after resubscription = %v", r)
		}
		ws.send(ack(config.TypeURL, r))
		eventually(t, "in sync", ts.srv.InSync)
		ts.srv.Update(addrs, nil, snapshot("app", "wp", "changed"), snapshot("app", "other", "x"))
		ws.noMore(config.TypeURL)
	})
	t.Run("a deleted Gateway's config is removed", func(t *testing.T) {
		ts.srv.Update(addrs, nil, snapshot("app", "wp", "changed"))
		r := ws.recv(config.TypeURL)
		if len(r.GetRemovedResources()) != 1 || r.GetRemovedResources()[0] != "app/other" {
			t.Fatalf("push = %v, want app/other removed", r)
		}
		ws.send(ack(config.TypeURL, r))
		eventually(t, "in sync", ts.srv.InSync)
	})
	t.Run("an invalid snapshot is refused and the previous resources stay served", func(t *testing.T) {
		gen := ts.srv.Generation()
		bad := snapshot("app", "wp")
		bad.For = "pods"
		if err := ts.srv.Update(addrs, nil, bad); err == nil {
			t.Fatal("invalid snapshot accepted")
		}
		if ts.srv.Generation() != gen {
			t.Fatal("generation changed after a refused update")
		}
	})
}
