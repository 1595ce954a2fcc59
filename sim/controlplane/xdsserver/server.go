package xdsserver

import (
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
)

// Server is the delta ADS server. Create it with New, feed it with Update,
// attach it to a grpc.Server with Register. Close waits for the goroutines its
// streams started; call it after the grpc.Server has stopped.
type Server struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	log *slog.Logger

	// mu guards the served generation, its change signal and the connections.
	mu      sync.Mutex
	current *resourceSet
	changed chan struct{} // closed when current is replaced
	conns   map[uint64]*conn
	nextID  uint64

	wg sync.WaitGroup // stream receive loops
}

// New returns a server that serves nothing until the first Update.
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, changed: make(chan struct{}), conns: map[uint64]*conn{}}
	s.current, _ = buildResourceSet(0, nil, nil, nil)
	return s
}

// Register adds the ADS service to g.
func (s *Server) Register(g *grpc.Server) { discovery.RegisterAggregatedDiscoveryServiceServer(g, s) }

// Update replaces the served resources: the workload API for every client,
// and the waypoint snapshots (type config.TypeURL, named "<ns>/<gateway>")
// for the clients subscribed to them by name. Connected clients receive only
// the resources that were added, changed or removed. An Update with the same
// content changes nothing; an invalid one (duplicate or empty names, a
// snapshot that does not validate) is an error and the previous resources
// stay served.
func (s *Server) Update(addresses []*workloadapi.Address, auths []*security.Authorization, waypoints ...*config.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := buildResourceSet(s.current.gen+1, addresses, auths, waypoints)
	if err != nil {
		return err
	}
	if next.sameContent(s.current) {
		return nil
	}
	s.current = next
	close(s.changed)
	s.changed = make(chan struct{})
	s.log.Info("xds: new generation", "gen", next.gen,
		"addresses", len(next.byURL[typeAddress]), "authorizations", len(next.byURL[typeAuthorization]),
		"waypoints", len(next.byURL[typeWaypoint]))
	return nil
}

// Generation is the number of content changes so far.
func (s *Server) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.gen
}

// Close waits for the receive loops of ended streams. Call it after the
// grpc.Server is stopped (which ends every stream).
func (s *Server) Close() { s.wg.Wait() }

func (s *Server) snapshot() (*resourceSet, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, s.changed
}

// ConnectionStatus is what the server knows of one client stream.
type ConnectionStatus struct {
	ID       uint64
	NodeID   string
	NodeName string
	Types    map[string]TypeStatus // by type URL
}

// TypeStatus is the ACK state of one resource type on one connection.
type TypeStatus struct {
	Subscribed bool
	// Names are the resource names of a by-name subscription (waypoint
	// configs), sorted; nil for wildcard types.
	Names []string
	// AckedGeneration is the server generation the client last confirmed
	// holding in full (0 before the first ACK).
	AckedGeneration uint64
	AckedResources  int
	ACKs, NACKs     int
	LastNACK        string
	// LastAdded and LastRemoved count the resources of the last ACKed push
	// (a delta push carries only what changed).
	LastAdded, LastRemoved int
	// Pending is the nonce of a response not yet answered.
	Pending string
}

// Connections returns the status of every open stream, sorted by ID.
func (s *Server) Connections() []ConnectionStatus {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]ConnectionStatus, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// InSync reports whether every open stream has ACKed the current generation
// for every type it subscribed to, and subscribed to Address at least (the
// "config propagated" signal tests and dumps wait on).
func (s *Server) InSync() bool {
	gen := s.Generation()
	conns := s.Connections()
	if len(conns) == 0 {
		return false
	}
	for _, c := range conns {
		if !c.Types[typeAddress].Subscribed {
			return false
		}
		for _, t := range c.Types {
			if t.AckedGeneration != gen || t.Pending != "" {
				return false
			}
		}
	}
	return true
}

func (c *conn) status() ConnectionStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ConnectionStatus{ID: c.id, NodeID: c.nodeID, NodeName: c.nodeName, Types: map[string]TypeStatus{}}
	for url, t := range c.types {
		ts := t.stats
		ts.Subscribed = true
		if t.names != nil {
			ts.Names = slices.Sorted(maps.Keys(t.names))
		}
		ts.AckedResources = len(t.acked)
		if t.pending != nil {
			ts.Pending = t.pending.nonce
		}
		st.Types[url] = ts
	}
	return st
}
