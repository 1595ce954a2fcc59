package xds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ADSConfig configures an ADSClient.
type ADSConfig struct {
	// Address is istiod's host:port (15010 plaintext, 15012 TLS).
	Address string
	// TLS, when set, secures the connection (the caller supplies roots and,
	// for mTLS, the node's certificate); nil means plaintext.
	TLS *tls.Config
	// NodeID and NodeName identify this proxy (Node.id and NODE_NAME metadata).
	NodeID, NodeName string
	// InitialBackoff and MaxBackoff bound reconnect delays; zero means 10 ms
	// and 15 s (reliability F4; ztunnel `src/xds/client.rs` backoff).
	InitialBackoff, MaxBackoff time.Duration
	Log                        *slog.Logger
	// DialOptions are appended to the gRPC dial options (tests).
	DialOptions []grpc.DialOption
	// Extra subscribes to resource types beyond the workload API, on the
	// same stream (a waypoint's own configuration).
	Extra []ExtraType
}

// ExtraType is a resource type the client subscribes to besides Address and
// Authorization. The client keeps its resources raw; Apply interprets them.
type ExtraType struct {
	TypeURL string
	// Names, when non-empty, are sent as resource_names_subscribe; otherwise
	// the subscription is a wildcard.
	Names []string
	// Apply receives every resource of the type the client would hold after
	// a response, by name. An error rejects the response: it is NACKed with
	// the error, and the previous resources stay in force (Apply must not
	// install anything when it fails). It runs on the stream goroutine.
	Apply func(resources map[string]*anypb.Any) error
}

// ADSStatus is a point-in-time view of the client, for config dumps and tests.
type ADSStatus struct {
	Connected bool
	Connects  int // streams opened
	ACKs      int
	NACKs     int
	LastNACK  string // error detail of the last NACK
	LastError string // why the last stream ended
}

// ADSClient subscribes to Address and Authorization resources (and any
// ADSConfig.Extra types) over delta ADS
// (envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources)
// and publishes a workloadapi.Snapshot after every accepted response. While
// disconnected it keeps serving the last good snapshot and reconnects with
// exponential backoff; on reconnect it reports the versions it holds
// (initial_resource_versions) so the server sends only the difference.
type ADSClient struct {
	*broadcaster
	cfg ADSConfig
	log *slog.Logger

	// mu guards the resource cache and status; handle runs on the stream
	// goroutine, Status on any.
	mu     sync.Mutex
	cache  resourceCache
	status ADSStatus
}

var _ Source = (*ADSClient)(nil)

// NewADSClient validates cfg. Call Run to connect.
func NewADSClient(cfg ADSConfig) (*ADSClient, error) {
	if cfg.Address == "" {
		return nil, errors.New("xds: ADS address is required")
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 10 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 15 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	extras := map[string]ExtraType{}
	for i, e := range cfg.Extra {
		switch {
		case e.TypeURL == "" || e.Apply == nil:
			return nil, fmt.Errorf("xds: Extra[%d]: TypeURL and Apply are required", i)
		case e.TypeURL == TypeAddress || e.TypeURL == TypeAuthorization:
			return nil, fmt.Errorf("xds: Extra[%d]: %s is already subscribed", i, e.TypeURL)
		}
		if _, dup := extras[e.TypeURL]; dup {
			return nil, fmt.Errorf("xds: Extra[%d]: %s listed twice", i, e.TypeURL)
		}
		extras[e.TypeURL] = e
	}
	return &ADSClient{broadcaster: newBroadcaster(), cfg: cfg, log: cfg.Log, cache: newResourceCache(extras)}, nil
}

// Status returns a copy of the connection status.
func (c *ADSClient) Status() ADSStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Run connects and keeps the subscription alive until ctx is done; it then
// returns nil. It must be called at most once.
func (c *ADSClient) Run(ctx context.Context) error {
	creds := insecure.NewCredentials()
	if c.cfg.TLS != nil {
		creds = credentials.NewTLS(c.cfg.TLS)
	}
	conn, err := grpc.NewClient(c.cfg.Address, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, c.cfg.DialOptions...)...)
	if err != nil {
		return fmt.Errorf("xds: %w", err)
	}
	defer conn.Close()
	ads := discovery.NewAggregatedDiscoveryServiceClient(conn)
	backoff := c.cfg.InitialBackoff
	for {
		progressed, err := c.runStream(ctx, ads)
		c.mu.Lock()
		c.status.Connected = false
		if err != nil {
			c.status.LastError = err.Error()
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			backoff = c.cfg.InitialBackoff
		}
		c.log.Warn("xds stream ended; keeping last config", "address", c.cfg.Address, "retry_in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

// runStream runs one ADS stream; progressed reports whether any response
// arrived (which resets the backoff).
func (c *ADSClient) runStream(ctx context.Context, ads discovery.AggregatedDiscoveryServiceClient) (progressed bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := ads.DeltaAggregatedResources(sctx)
	if err != nil {
		return false, err
	}
	node, err := c.node()
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.status.Connected = true
	c.status.Connects++
	reqs := c.subscriptionsLocked(node)
	c.mu.Unlock()
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			return false, err
		}
	}
	c.log.Info("xds stream opened", "address", c.cfg.Address)
	for {
		resp, err := stream.Recv()
		if err != nil {
			return progressed, err
		}
		progressed = true
		if err := stream.Send(c.handle(resp)); err != nil {
			return progressed, err
		}
	}
}

// BytesPayload decodes an ExtraType resource whose Any carries a
// google.protobuf.BytesValue under the type's own URL (the waypoint config's
// wire form) and returns the bytes.
func BytesPayload(a *anypb.Any) ([]byte, error) {
	var b wrapperspb.BytesValue
	if err := proto.Unmarshal(a.GetValue(), &b); err != nil {
		return nil, fmt.Errorf("xds: %s payload is not a BytesValue: %w", a.GetTypeUrl(), err)
	}
	return b.GetValue(), nil
}

// subscriptionsLocked is the first request of each type on a new stream,
// with the versions the client holds. The caller must hold c.mu.
func (c *ADSClient) subscriptionsLocked(node *corev3.Node) []*discovery.DeltaDiscoveryRequest {
	reqs := []*discovery.DeltaDiscoveryRequest{
		{Node: node, TypeUrl: TypeAddress, InitialResourceVersions: c.cache.versionsOf(TypeAddress)},
		{TypeUrl: TypeAuthorization, InitialResourceVersions: c.cache.versionsOf(TypeAuthorization)},
	}
	for _, e := range c.cfg.Extra {
		reqs = append(reqs, &discovery.DeltaDiscoveryRequest{TypeUrl: e.TypeURL, ResourceNamesSubscribe: e.Names,
			InitialResourceVersions: c.cache.versionsOf(e.TypeURL)})
	}
	return reqs
}

// handle applies one response and returns its ACK, or a NACK carrying the
// error when any resource is invalid (then nothing of it is applied).
func (c *ADSClient) handle(resp *discovery.DeltaDiscoveryResponse) *discovery.DeltaDiscoveryRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap, next, err := c.cache.apply(resp)
	if err != nil {
		c.status.NACKs++
		c.status.LastNACK = err.Error()
		c.log.Error("xds: rejecting config", "type", resp.GetTypeUrl(), "nonce", resp.GetNonce(), "error", err)
		return &discovery.DeltaDiscoveryRequest{
			TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce(),
			ErrorDetail: &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: err.Error()},
		}
	}
	c.cache = next
	c.status.ACKs++
	c.log.Debug("xds: accepted config", "type", resp.GetTypeUrl(), "nonce", resp.GetNonce(),
		"added", len(resp.GetResources()), "removed", len(resp.GetRemovedResources()))
	if snap != nil {
		c.publish(snap)
	}
	return &discovery.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}
}

func (c *ADSClient) node() (*corev3.Node, error) {
	md, err := structpb.NewStruct(map[string]any{"NODE_NAME": c.cfg.NodeName})
	if err != nil {
		return nil, err
	}
	return &corev3.Node{Id: c.cfg.NodeID, Metadata: md}, nil
}
