package xdsserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/xds"
)

// resource is one encoded resource and its content version.
type resource struct {
	version string
	body    *anypb.Any
}

// resourceSet is an immutable generation of everything served: type URL →
// resource name → resource.
type resourceSet struct {
	gen   uint64
	byURL map[string]map[string]resource
}

func buildResourceSet(gen uint64, addresses []*workloadapi.Address, auths []*security.Authorization, waypoints []*config.Snapshot) (*resourceSet, error) {
	rs := &resourceSet{gen: gen, byURL: map[string]map[string]resource{xds.TypeAddress: {}, xds.TypeAuthorization: {}, typeWaypoint: {}}}
	add := func(url, name string, m proto.Message) error {
		if name == "" || name == "/" {
			return fmt.Errorf("%s resource without a name", url)
		}
		if _, dup := rs.byURL[url][name]; dup {
			return fmt.Errorf("duplicate %s resource %q", url, name)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rs.byURL[url][name] = resource{
			version: hex.EncodeToString(sum[:8]),
			body:    &anypb.Any{TypeUrl: url, Value: b},
		}
		return nil
	}
	for _, a := range addresses {
		if err := add(xds.TypeAddress, xds.AddressName(a), a); err != nil {
			return nil, err
		}
	}
	for _, a := range auths {
		if err := add(xds.TypeAuthorization, xds.AuthorizationName(a), a); err != nil {
			return nil, err
		}
	}
	for _, w := range waypoints {
		// The waypoint config travels as JSON in a BytesValue (config.TypeURL).
		js, err := config.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("waypoint %s: %w", w.Gateway, err)
		}
		if err := add(typeWaypoint, w.Gateway.String(), wrapperspb.Bytes(js)); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// sameContent reports whether rs and o serve identical resources.
func (rs *resourceSet) sameContent(o *resourceSet) bool {
	for url, m := range rs.byURL {
		om := o.byURL[url]
		if len(m) != len(om) {
			return false
		}
		for name, r := range m {
			if or, ok := om[name]; !ok || or.version != r.version {
				return false
			}
		}
	}
	return true
}
