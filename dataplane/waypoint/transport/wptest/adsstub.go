package wptest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// ADS is a scripted delta ADS server (istiod's role): the test pushes
// responses and reads the client's subscriptions and ACK/NACK replies. It
// serves one stream at a time.
type ADS struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	Addr string

	send    chan *discovery.DeltaDiscoveryResponse
	replies chan *discovery.DeltaDiscoveryRequest
	mu      sync.Mutex
	subs    map[string]*discovery.DeltaDiscoveryRequest // type URL → subscription
	nonce   int
}

// StartADS serves plaintext gRPC until the test ends.
func StartADS(tb testing.TB) *ADS {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a := &ADS{Addr: ln.Addr().String(), send: make(chan *discovery.DeltaDiscoveryResponse),
		replies: make(chan *discovery.DeltaDiscoveryRequest, 64), subs: map[string]*discovery.DeltaDiscoveryRequest{}}
	srv := grpc.NewServer(grpc.Creds(insecure.NewCredentials()))
	discovery.RegisterAggregatedDiscoveryServiceServer(srv, a)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tb.Cleanup(func() { srv.Stop(); <-done })
	return a
}

func (a *ADS) DeltaAggregatedResources(stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			if req.GetResponseNonce() == "" {
				a.mu.Lock()
				a.subs[req.GetTypeUrl()] = req
				a.mu.Unlock()
				continue
			}
			a.replies <- req
		}
	}()
	for {
		select {
		case r := <-a.send:
			if err := stream.Send(r); err != nil {
				return err
			}
		case err := <-errc:
			return err
		case <-stream.Context().Done():
			return nil
		}
	}
}

// Subscription waits for the client's subscription to typeURL.
func (a *ADS) Subscription(tb testing.TB, typeURL string) *discovery.DeltaDiscoveryRequest {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		s := a.subs[typeURL]
		a.mu.Unlock()
		if s != nil {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("no subscription to %s", typeURL)
	return nil
}

// Push sends one response and returns the client's reply to it (an ACK, or
// a NACK with ErrorDetail).
func (a *ADS) Push(tb testing.TB, typeURL string, resources map[string]*anypb.Any, removed ...string) *discovery.DeltaDiscoveryRequest {
	tb.Helper()
	a.mu.Lock()
	a.nonce++
	nonce := fmt.Sprint(a.nonce)
	a.mu.Unlock()
	resp := &discovery.DeltaDiscoveryResponse{TypeUrl: typeURL, Nonce: nonce, SystemVersionInfo: nonce, RemovedResources: removed}
	for name, r := range resources {
		resp.Resources = append(resp.Resources, &discovery.Resource{Name: name, Version: nonce, Resource: r})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case a.send <- resp:
	case <-ctx.Done():
		tb.Fatalf("push %s: no client stream", typeURL)
	}
	for {
		select {
		case r := <-a.replies:
			if r.GetResponseNonce() == nonce {
				return r
			}
		case <-ctx.Done():
			tb.Fatalf("push %s nonce %s: no reply", typeURL, nonce)
			return nil
		}
	}
}
