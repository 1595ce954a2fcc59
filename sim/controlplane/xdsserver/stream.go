package xdsserver

import (
	"fmt"
	"maps"
	"sort"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

const (
	typeAddress       = xds.TypeAddress
	typeAuthorization = xds.TypeAuthorization
	// typeWaypoint is a waypoint's configuration, subscribed by name
	// ("<ns>/<gateway>"); the workload API types are wildcard.
	typeWaypoint = config.TypeURL
)

// servedTypes are pushed in this order on every change.
var servedTypes = []string{typeAddress, typeAuthorization, typeWaypoint}

// conn is one client stream.
type conn struct {
	id uint64

	// mu guards everything below; the stream goroutine writes, Connections reads.
	mu               sync.Mutex
	nodeID, nodeName string
	types            map[string]*typeState
	nonces           uint64
}

// typeState tracks one subscribed type: what the client has confirmed, and
// the one response in flight (we never pipeline, so a NACK maps to exactly
// one push).
type typeState struct {
	acked      map[string]string // name → version the client holds
	pending    *push
	sentOnce   bool   // the initial response went out (even if empty)
	nackedGen  uint64 // do not resend this generation after a NACK
	hasNACKGen bool
	// names is the named subscription of a by-name type (typeWaypoint); nil
	// for the wildcard types, which get every resource.
	names map[string]bool
	stats TypeStatus
}

// wants reports whether the client subscribed to resource name.
func (t *typeState) wants(name string) bool { return t.names == nil || t.names[name] || t.names["*"] }

// resubscribe applies a request's subscription changes to a by-name type.
// A name dropped from the subscription is forgotten (the client discards
// it), so subscribing again sends it again.
func (t *typeState) resubscribe(req *discovery.DeltaDiscoveryRequest) {
	if t.names == nil {
		return
	}
	for _, n := range req.GetResourceNamesSubscribe() {
		t.names[n] = true
	}
	for _, n := range req.GetResourceNamesUnsubscribe() {
		delete(t.names, n)
		delete(t.acked, n)
	}
}

type push struct {
	nonce  string
	gen    uint64
	result map[string]string // acked after the client ACKs

	added, removed int
}

// DeltaAggregatedResources serves one ztunnel. Its receive loop is a separate
// goroutine (gRPC Recv blocks), tracked by s.wg; it ends when the stream does.
func (s *Server) DeltaAggregatedResources(stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	c := &conn{types: map[string]*typeState{}}
	s.mu.Lock()
	s.nextID++
	c.id = s.nextID
	s.conns[c.id] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c.id)
		s.mu.Unlock()
	}()

	ctx := stream.Context()
	reqs := make(chan *discovery.DeltaDiscoveryRequest)
	recvErr := make(chan error, 1)
	s.wg.Add(1)
	go s.runRecv(stream, reqs, recvErr)

	for {
		cur, changed := s.snapshot()
		if err := s.pushPending(stream, c, cur); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			return err
		case <-changed:
		case req := <-reqs:
			if err := s.handleRequest(c, req); err != nil {
				return err
			}
		}
	}
}

func (s *Server) runRecv(stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer,
	reqs chan<- *discovery.DeltaDiscoveryRequest, recvErr chan<- error,
) {
	defer s.wg.Done()
	for {
		req, err := stream.Recv()
		if err != nil {
			recvErr <- err
			return
		}
		select {
		case reqs <- req:
		case <-stream.Context().Done():
			return
		}
	}
}

func (s *Server) handleRequest(c *conn, req *discovery.DeltaDiscoveryRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := req.GetNode(); n != nil && c.nodeID == "" {
		c.nodeID = n.GetId()
		c.nodeName = n.GetMetadata().GetFields()["NODE_NAME"].GetStringValue()
	}
	url := req.GetTypeUrl()
	if url != typeAddress && url != typeAuthorization && url != typeWaypoint {
		return status.Errorf(codes.InvalidArgument, "unsupported type %q", url)
	}
	t := c.types[url]
	if t != nil && t.names != nil {
		t.resubscribe(req)
		if req.GetResponseNonce() == "" {
			return nil // a subscription change on an open stream
		}
	}
	if req.GetResponseNonce() == "" { // (re)subscription
		if t == nil {
			t = &typeState{}
			c.types[url] = t
		}
		t.acked = maps.Clone(req.GetInitialResourceVersions())
		if t.acked == nil {
			t.acked = map[string]string{}
		}
		if url == typeWaypoint {
			t.names = map[string]bool{}
			t.resubscribe(req)
		}
		t.pending, t.sentOnce, t.hasNACKGen = nil, false, false
		s.log.Info("xds: subscribed", "conn", c.id, "node", c.nodeID, "type", url, "initial", len(t.acked),
			"names", req.GetResourceNamesSubscribe())
		return nil
	}
	if t == nil || t.pending == nil || req.GetResponseNonce() != t.pending.nonce {
		return nil // stale nonce: superseded, ignore (xDS protocol)
	}
	p := t.pending
	t.pending = nil
	if d := req.GetErrorDetail(); d != nil {
		t.stats.NACKs++
		t.stats.LastNACK = d.GetMessage()
		t.nackedGen, t.hasNACKGen = p.gen, true
		s.log.Warn("xds: NACK", "conn", c.id, "node", c.nodeID, "type", url, "nonce", p.nonce, "error", d.GetMessage())
		return nil
	}
	t.acked = p.result
	t.stats.ACKs++
	t.stats.AckedGeneration = p.gen
	t.stats.LastAdded, t.stats.LastRemoved = p.added, p.removed
	return nil
}

// pushPending sends, per subscribed type with nothing in flight, the
// difference between what the client holds and cur.
func (s *Server) pushPending(stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer, c *conn, cur *resourceSet) error {
	for _, url := range servedTypes {
		c.mu.Lock()
		resp := c.diffLocked(url, cur)
		c.mu.Unlock()
		if resp == nil {
			continue
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

// diffLocked builds the next response for url, or nil if none is due.
// The caller must hold c.mu.
func (c *conn) diffLocked(url string, cur *resourceSet) *discovery.DeltaDiscoveryResponse {
	t := c.types[url]
	if t == nil || t.pending != nil || (t.hasNACKGen && t.nackedGen == cur.gen) {
		return nil
	}
	want := cur.byURL[url]
	resp := &discovery.DeltaDiscoveryResponse{TypeUrl: url, SystemVersionInfo: fmt.Sprint(cur.gen)}
	result := make(map[string]string, len(want))
	for name, r := range want {
		if !t.wants(name) {
			continue
		}
		result[name] = r.version
		if t.acked[name] != r.version {
			resp.Resources = append(resp.Resources, &discovery.Resource{Name: name, Version: r.version, Resource: r.body})
		}
	}
	for name := range t.acked {
		if _, ok := want[name]; !ok || !t.wants(name) {
			resp.RemovedResources = append(resp.RemovedResources, name)
		}
	}
	if len(resp.Resources) == 0 && len(resp.RemovedResources) == 0 {
		if t.sentOnce {
			// The client already holds exactly this generation's resources.
			t.stats.AckedGeneration = cur.gen
			return nil
		}
	}
	sort.Slice(resp.Resources, func(i, j int) bool { return resp.Resources[i].Name < resp.Resources[j].Name })
	sort.Strings(resp.RemovedResources)
	c.nonces++
	resp.Nonce = fmt.Sprintf("%d-%d", c.id, c.nonces)
	t.pending = &push{nonce: resp.Nonce, gen: cur.gen, result: result,
		added: len(resp.Resources), removed: len(resp.RemovedResources)}
	t.sentOnce = true
	return resp
}
