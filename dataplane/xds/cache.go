package xds

import (
	"fmt"
	"maps"
	"sort"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	state "github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// resourceCache is the client's copy of every accepted resource, by type and
// name. It is a value: apply returns a modified copy, so a rejected update
// leaves the original untouched.
type resourceCache struct {
	addresses map[string]*workloadapi.Address
	auths     map[string]*security.Authorization
	extra     map[string]map[string]*anypb.Any // ExtraType resources: type URL → name → raw
	versions  map[string]map[string]string     // type URL → name → version
	received  map[string]bool                  // type URL → got a response since start
	// extraTypes is configuration, shared by every copy.
	extraTypes map[string]ExtraType
}

func newResourceCache(extraTypes map[string]ExtraType) resourceCache {
	rc := resourceCache{
		addresses: map[string]*workloadapi.Address{}, auths: map[string]*security.Authorization{},
		extra:    map[string]map[string]*anypb.Any{},
		versions: map[string]map[string]string{TypeAddress: {}, TypeAuthorization: {}},
		received: map[string]bool{}, extraTypes: extraTypes,
	}
	for t := range extraTypes {
		rc.extra[t], rc.versions[t] = map[string]*anypb.Any{}, map[string]string{}
	}
	return rc
}

func (rc resourceCache) versionsOf(typeURL string) map[string]string {
	return maps.Clone(rc.versions[typeURL])
}

func (rc resourceCache) clone() resourceCache {
	out := resourceCache{
		addresses: maps.Clone(rc.addresses), auths: maps.Clone(rc.auths), extra: map[string]map[string]*anypb.Any{},
		versions: map[string]map[string]string{}, received: maps.Clone(rc.received), extraTypes: rc.extraTypes,
	}
	for t, m := range rc.extra {
		out.extra[t] = maps.Clone(m)
	}
	for t, v := range rc.versions {
		out.versions[t] = maps.Clone(v)
	}
	return out
}

// apply returns the cache with resp applied and, once both types have been
// received (ztunnel waits for every type before it is ready, so no window
// without policies), the snapshot it converts to. Any undecodable or
// unconvertible resource fails the whole response.
func (rc resourceCache) apply(resp *discovery.DeltaDiscoveryResponse) (*state.Snapshot, resourceCache, error) {
	t := resp.GetTypeUrl()
	if e, ok := rc.extraTypes[t]; ok {
		next, err := rc.applyExtra(resp, e)
		return nil, next, err
	}
	if t != TypeAddress && t != TypeAuthorization {
		return nil, rc, fmt.Errorf("unsupported type %q", t)
	}
	next := rc.clone()
	for _, name := range resp.GetRemovedResources() {
		if t == TypeAddress {
			delete(next.addresses, name)
		} else {
			delete(next.auths, name)
		}
		delete(next.versions[t], name)
	}
	for _, r := range resp.GetResources() {
		if r.GetName() == "" {
			return nil, rc, fmt.Errorf("resource without a name")
		}
		if r.GetResource().GetTypeUrl() != t {
			return nil, rc, fmt.Errorf("resource %s: type %q in a %q response", r.GetName(), r.GetResource().GetTypeUrl(), t)
		}
		var err error
		if t == TypeAddress {
			a := &workloadapi.Address{}
			err = r.GetResource().UnmarshalTo(a)
			next.addresses[r.GetName()] = a
		} else {
			a := &security.Authorization{}
			err = r.GetResource().UnmarshalTo(a)
			next.auths[r.GetName()] = a
		}
		if err != nil {
			return nil, rc, fmt.Errorf("resource %s: %w", r.GetName(), err)
		}
		next.versions[t][r.GetName()] = r.GetVersion()
	}
	next.received[t] = true
	snap, err := state.FromWire(sortedValues(next.addresses), sortedValues(next.auths))
	if err != nil {
		return nil, rc, err
	}
	if !next.received[TypeAddress] || !next.received[TypeAuthorization] {
		snap = nil
	}
	return snap, next, nil
}

// applyExtra applies a response of an ExtraType and hands the resulting set
// to its Apply; nothing changes when either step fails.
func (rc resourceCache) applyExtra(resp *discovery.DeltaDiscoveryResponse, e ExtraType) (resourceCache, error) {
	t := e.TypeURL
	next := rc.clone()
	for _, name := range resp.GetRemovedResources() {
		delete(next.extra[t], name)
		delete(next.versions[t], name)
	}
	for _, r := range resp.GetResources() {
		if r.GetName() == "" {
			return rc, fmt.Errorf("resource without a name")
		}
		if r.GetResource().GetTypeUrl() != t {
			return rc, fmt.Errorf("resource %s: type %q in a %q response", r.GetName(), r.GetResource().GetTypeUrl(), t)
		}
		next.extra[t][r.GetName()] = r.GetResource()
		next.versions[t][r.GetName()] = r.GetVersion()
	}
	if err := e.Apply(maps.Clone(next.extra[t])); err != nil {
		return rc, err
	}
	next.received[t] = true
	return next, nil
}

func sortedValues[V any](m map[string]V) []V {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]V, 0, len(m))
	for _, n := range names {
		out = append(out, m[n])
	}
	return out
}

// AddressName is the xDS resource name of an Address: a workload's UID, or
// "<namespace>/<hostname>" for a service (istio `ambient` WorkloadInfo and
// ServiceInfo ResourceName).
func AddressName(a *workloadapi.Address) string {
	if w := a.GetWorkload(); w != nil {
		return w.GetUid()
	}
	s := a.GetService()
	return s.GetNamespace() + "/" + s.GetHostname()
}

// AuthorizationName is the xDS resource name of an Authorization: "<ns>/<name>".
func AuthorizationName(a *security.Authorization) string { return a.GetNamespace() + "/" + a.GetName() }
