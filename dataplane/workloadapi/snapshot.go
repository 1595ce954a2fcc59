package workloadapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"sync"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// Snapshot is an immutable, indexed view of everything a proxy knows about
// the mesh. Build it with New or FromWire; it is safe for concurrent use and
// must not be mutated (nor may the Workloads and Services it returns).
type Snapshot struct {
	workloads  []*Workload // sorted by UID
	services   []*Service  // sorted by key
	policies   *policy.Snapshot
	policyList []*policy.Policy // sorted by key, for Dump

	byUID      map[string]*Workload
	byIP       map[netip.Addr]*Workload
	byVIP      map[netip.Addr]*Service
	byHostname map[string]*Service
	byKey      map[ServiceKey]*Service
	endpoints  map[ServiceKey][]*Workload

	versionOnce sync.Once
	version     string
}

// Empty is the snapshot before any configuration arrived: nothing known,
// no policies.
func Empty() *Snapshot {
	s, _ := New(nil, nil, nil)
	return s
}

// New validates and indexes state built directly (tests, LOCAL_XDS_PATH files).
// It takes ownership of its arguments. Errors: duplicate UIDs, service keys,
// workload IPs or VIPs, and invalid policies.
func New(workloads []*Workload, services []*Service, policies []*policy.Policy) (*Snapshot, error) {
	ps, err := policy.NewSnapshot(policies)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{
		workloads: workloads, services: services, policies: ps, policyList: policies,
		byUID: make(map[string]*Workload, len(workloads)), byIP: make(map[netip.Addr]*Workload, len(workloads)),
		byVIP: map[netip.Addr]*Service{}, byHostname: map[string]*Service{},
		byKey: make(map[ServiceKey]*Service, len(services)), endpoints: map[ServiceKey][]*Workload{},
	}
	sort.Slice(policies, func(i, j int) bool { return policies[i].Key() < policies[j].Key() })
	sort.Slice(workloads, func(i, j int) bool { return workloads[i].UID < workloads[j].UID })
	sort.Slice(services, func(i, j int) bool { return services[i].Key().String() < services[j].Key().String() })
	for _, w := range workloads {
		if _, dup := s.byUID[w.UID]; dup {
			return nil, fmt.Errorf("duplicate workload uid %q", w.UID)
		}
		s.byUID[w.UID] = w
		for _, ip := range w.IPs {
			if o, dup := s.byIP[ip]; dup {
				return nil, fmt.Errorf("workloads %s and %s share address %s", o.Key(), w.Key(), ip)
			}
			s.byIP[ip] = w
		}
		for k := range w.Services {
			s.endpoints[k] = append(s.endpoints[k], w) // in UID order
		}
	}
	for _, svc := range services {
		k := svc.Key()
		if _, dup := s.byKey[k]; dup {
			return nil, fmt.Errorf("duplicate service %s", k)
		}
		s.byKey[k] = svc
		// ztunnel indexes by hostname across namespaces (`service.rs`
		// ServiceStore.by_host); the first in key order wins, deterministically.
		if _, ok := s.byHostname[svc.Hostname]; !ok {
			s.byHostname[svc.Hostname] = svc
		}
		for _, ip := range svc.VIPs {
			if o, dup := s.byVIP[ip]; dup {
				return nil, fmt.Errorf("services %s and %s share VIP %s", o.Key(), k, ip)
			}
			s.byVIP[ip] = svc
		}
	}
	return s, nil
}

// FromWire converts a full set of xDS resources into a Snapshot. The first
// invalid resource fails the whole conversion with an error naming it, so the
// xDS client can NACK and keep its previous snapshot (reliability F10).
func FromWire(addresses []*workloadapi.Address, auths []*security.Authorization) (*Snapshot, error) {
	var ws []*Workload
	var ss []*Service
	for i, a := range addresses {
		switch t := a.GetType().(type) {
		case *workloadapi.Address_Workload:
			w, err := WorkloadFromWire(t.Workload)
			if err != nil {
				return nil, err
			}
			ws = append(ws, w)
		case *workloadapi.Address_Service:
			s, err := ServiceFromWire(t.Service)
			if err != nil {
				return nil, err
			}
			ss = append(ss, s)
		default:
			return nil, fmt.Errorf("address[%d]: neither workload nor service", i)
		}
	}
	ps := make([]*policy.Policy, 0, len(auths))
	for _, a := range auths {
		p, err := PolicyFromWire(a)
		if err != nil {
			return nil, fmt.Errorf("authorization %s/%s: %w", a.GetNamespace(), a.GetName(), err)
		}
		ps = append(ps, p)
	}
	return New(ws, ss, ps)
}

// WorkloadByIP finds the workload with address ip (IPv4-mapped forms match).
func (s *Snapshot) WorkloadByIP(ip netip.Addr) (*Workload, bool) {
	w, ok := s.byIP[ip.Unmap()]
	return w, ok
}

// WorkloadByUID finds a workload by its UID (the ZDS AddWorkload uid).
func (s *Snapshot) WorkloadByUID(uid string) (*Workload, bool) {
	w, ok := s.byUID[uid]
	return w, ok
}

// ServiceByVIP finds the Service with ClusterIP ip.
func (s *Snapshot) ServiceByVIP(ip netip.Addr) (*Service, bool) {
	svc, ok := s.byVIP[ip.Unmap()]
	return svc, ok
}

// ServiceByHostname finds a Service by its hostname ("<name>.<ns>.svc.<domain>").
func (s *Snapshot) ServiceByHostname(host string) (*Service, bool) {
	svc, ok := s.byHostname[host]
	return svc, ok
}

// Service finds a Service by key.
func (s *Snapshot) Service(k ServiceKey) (*Service, bool) {
	svc, ok := s.byKey[k]
	return svc, ok
}

// Endpoints returns the workloads whose Services map names k, sorted by UID.
// Unhealthy workloads are included; callers filter on Status.
func (s *Snapshot) Endpoints(k ServiceKey) []*Workload { return s.endpoints[k] }

// Workloads returns every workload, sorted by UID. Do not modify the slice.
func (s *Snapshot) Workloads() []*Workload { return s.workloads }

// Services returns every Service, sorted by key. Do not modify the slice.
func (s *Snapshot) Services() []*Service { return s.services }

// WorkloadsOnNode returns the workloads placed on node, sorted by UID (what a
// node's ztunnel prefetches certificates for).
func (s *Snapshot) WorkloadsOnNode(node string) []*Workload {
	var out []*Workload
	for _, w := range s.workloads {
		if w.Node == node {
			out = append(out, w)
		}
	}
	return out
}

// Policies returns the authorization policies, indexed for evaluation.
func (s *Snapshot) Policies() *policy.Snapshot { return s.policies }

// Version identifies the snapshot's content: a hash of Dump, so equal
// content has equal versions whatever order it arrived in.
func (s *Snapshot) Version() string {
	s.versionOnce.Do(func() {
		b, err := s.Dump()
		if err != nil {
			s.version = "invalid"
			return
		}
		sum := sha256.Sum256(b)
		s.version = hex.EncodeToString(sum[:8])
	})
	return s.version
}
