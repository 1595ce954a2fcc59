package app

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/types/known/anypb"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

// Store holds the waypoint's current configuration, compiled: per bound
// Service VIP (and for workload-addressed traffic) the policies, the
// authenticator and the routes. Readers never lock; Apply swaps the whole
// compiled version at once, so a request sees one consistent version.
type Store struct {
	gateway config.GatewayRef
	// serviceNames are the names the waypoint's own Service may have: the
	// Gateway's, and the deployed name (legacy "<gateway>-istio-waypoint").
	serviceNames []string
	workloads    func() *workloadapi.Snapshot
	keys         *jwtauthn.KeyCache
	log          *slog.Logger

	cur      atomic.Pointer[compiled]
	mu       sync.Mutex // serializes Apply
	versions int
	received chan struct{}
	once     sync.Once
}

// compiled is one accepted snapshot, ready to serve.
type compiled struct {
	snap     *config.Snapshot
	version  int // counts accepted snapshots
	byVIP    map[netip.Addr]*target
	workload *target
}

// target is what applies to one destination.
type target struct {
	policies []*policy.Policy
	authn    *jwtauthn.Authenticator
	routes   *route.Table
}

// NewStore serves gw's configuration; workloads is the current workload API
// state, keys resolves jwksUri rules (nil: such rules are rejected).
func NewStore(gw config.GatewayRef, workloads func() *workloadapi.Snapshot, keys *jwtauthn.KeyCache, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{gateway: gw, serviceNames: []string{gw.Name}, workloads: workloads, keys: keys, log: log, received: make(chan struct{})}
}

// Received is closed once a first configuration has been accepted.
func (s *Store) Received() <-chan struct{} { return s.received }

// Snapshot returns the current configuration and its version (0: none yet).
func (s *Store) Snapshot() (*config.Snapshot, int) {
	if c := s.cur.Load(); c != nil {
		return c.snap, c.version
	}
	return nil, 0
}

// ApplyResources is the xds.ExtraType Apply for config.TypeURL: it takes
// the resource named after this waypoint's Gateway. Its absence keeps the
// current configuration (a Gateway being deleted takes its pods too).
func (s *Store) ApplyResources(res map[string]*anypb.Any) error {
	name := s.gateway.String()
	a, ok := res[name]
	if !ok {
		if _, v := s.Snapshot(); v > 0 {
			s.log.Warn("waypoint: config resource removed; keeping the last one", "resource", name)
		}
		return nil
	}
	b, err := xds.BytesPayload(a)
	if err != nil {
		return fmt.Errorf("resource %s: %w", name, err)
	}
	snap, err := config.Unmarshal(b)
	if err != nil {
		return fmt.Errorf("resource %s: %w", name, err)
	}
	return s.Apply(snap)
}

// Apply validates and compiles snap and makes it current; on error nothing
// changes (the caller NACKs).
func (s *Store) Apply(snap *config.Snapshot) error {
	if err := snap.Validate(); err != nil {
		return err
	}
	if snap.Gateway != s.gateway {
		return fmt.Errorf("waypoint config: gateway %s, this waypoint is %s", snap.Gateway, s.gateway)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &compiled{snap: snap, version: s.versions + 1, byVIP: map[netip.Addr]*target{}}
	var err error
	if c.workload, err = s.compile(&snap.Workload, nil, "workload"); err != nil {
		return err
	}
	for i := range snap.Services {
		svc := &snap.Services[i]
		t, err := s.compile(&svc.Target, svc.Routing, fmt.Sprintf("services[%d] %s/%s", i, svc.Namespace, svc.Name))
		if err != nil {
			return err
		}
		for _, a := range svc.Addresses {
			c.byVIP[a.Unmap()] = t
		}
	}
	s.versions = c.version
	s.cur.Store(c)
	s.once.Do(func() { close(s.received) })
	s.log.Info("waypoint: config applied", "version", c.version, "services", len(snap.Services))
	return nil
}

func (s *Store) compile(t *config.Target, routes *route.Table, where string) (*target, error) {
	out := &target{policies: t.Policies, routes: routes}
	for _, p := range t.Policies {
		p.CacheKey()
	}
	if len(t.JWTRules) > 0 {
		a, err := jwtauthn.New(jwtauthn.Config{Rules: t.JWTRules, Keys: s.keys})
		if err != nil {
			return nil, fmt.Errorf("waypoint config: %s: jwtRules: %w", where, err)
		}
		out.authn = a
	}
	return out, nil
}

// targetFor is what applies to traffic for dst: its bound Service's target,
// or, for a pod whose workload waypoint is this one (waypoint-for workload
// or all), the Gateway-level target; nil when this waypoint does not serve dst.
func (s *Store) targetFor(dst netip.Addr) *target {
	c := s.cur.Load()
	if c == nil {
		return nil
	}
	dst = dst.Unmap()
	if t, ok := c.byVIP[dst]; ok {
		return t
	}
	if c.snap.For != "workload" && c.snap.For != "all" {
		return nil
	}
	st := s.workloads()
	if st == nil {
		return nil
	}
	if w, ok := st.WorkloadByIP(dst); ok && w.Waypoint != nil && s.isThisWaypoint(st, w.Waypoint) {
		return c.workload
	}
	return nil
}

// isThisWaypoint reports whether ga (a Workload.waypoint) names this
// waypoint: its Service by hostname or VIP, or one of its pods.
func (s *Store) isThisWaypoint(st *workloadapi.Snapshot, ga *workloadapi.GatewayAddress) bool {
	ns := s.gateway.Namespace
	if ga.Hostname != nil {
		if ga.Hostname.Namespace != ns {
			return false
		}
		return slices.ContainsFunc(s.serviceNames, func(n string) bool { return strings.HasPrefix(ga.Hostname.Hostname, n+"."+ns+".") })
	}
	if svc, ok := st.ServiceByVIP(ga.Address); ok {
		return svc.Namespace == ns && slices.Contains(s.serviceNames, svc.Name)
	}
	if w, ok := st.WorkloadByIP(ga.Address); ok {
		return w.Namespace == ns && slices.Contains(s.serviceNames, w.ServiceAccount)
	}
	return false
}

// Serves is transport.ServerConfig.Serves.
func (s *Store) Serves(dst netip.AddrPort) bool { return s.targetFor(dst.Addr()) != nil }

// denyAll is what a destination without a target gets: a nil entry denies
// (waypoint.Config.Policies). Serves refuses such streams first; this is
// the fail-closed backstop for a config swap in between.
var denyAll = []*policy.Policy{nil}

// Policies is waypoint.Config.Policies.
func (s *Store) Policies(ex *waypoint.Exchange) []*policy.Policy {
	return s.L4Policies(netip.AddrPortFrom(ex.Peer.DestinationIP, ex.Peer.DestPort))
}

// L4Policies is transport.ServerConfig.L4Policies.
func (s *Store) L4Policies(dst netip.AddrPort) []*policy.Policy {
	if t := s.targetFor(dst.Addr()); t != nil {
		return t.policies
	}
	return denyAll
}

// Authenticator is waypoint.Config.Authenticator.
func (s *Store) Authenticator(ex *waypoint.Exchange) *jwtauthn.Authenticator {
	if t := s.targetFor(ex.Peer.DestinationIP); t != nil {
		return t.authn
	}
	return nil
}

// Routes is waypoint.Config.Routes.
func (s *Store) Routes(ex *waypoint.Exchange) *route.Table {
	return s.TCPRoutes(netip.AddrPortFrom(ex.Peer.DestinationIP, ex.Peer.DestPort))
}

// TCPRoutes is transport.ServerConfig.TCPRoutes.
func (s *Store) TCPRoutes(dst netip.AddrPort) *route.Table {
	if t := s.targetFor(dst.Addr()); t != nil {
		return t.routes
	}
	return nil
}
