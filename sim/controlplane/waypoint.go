package controlplane

import (
	"maps"
	"net/netip"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/controlplane/authz"
	"github.com/ambientlab/ambientlab/sim/controlplane/l7route"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// waypointSnapshots computes one config.Snapshot per deployed waypoint
// Gateway (resource "<ns>/<gw>" of type config.TypeURL): the Services bound
// to it, each with the policies and JWT rules attached to the Service, the
// Gateway and the istio-waypoint GatewayClass and its routes (l7route), and
// for workload-addressed
// traffic those of the Gateway and GatewayClass alone. A waypoint-for none
// Gateway gets a snapshot too (nothing is bound to it), so its pods get
// ready as Istio's do.
func waypointSnapshots(c *topology.Cluster, set *manifest.Set, b *bindings, cfg authz.Config) ([]*config.Snapshot, []authz.Warning) {
	aps, _ := istioPolicies(set)
	ras := requestAuthentications(set)
	svcByKey := map[string]*topology.Service{}
	for i := range c.Services {
		svcByKey[c.Services[i].Key()] = &c.Services[i]
	}
	var out []*config.Snapshot
	var warnings []authz.Warning
	var routes map[l7route.ServiceKey]*route.Table
	if set != nil && len(b.waypoints) > 0 {
		var rws []l7route.Warning
		routes, rws = l7route.Build(c, set)
		for _, w := range rws {
			msg := w.Message
			if w.Field != "" {
				msg = w.Field + ": " + msg
			}
			warnings = append(warnings, authz.Warning{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Reason: w.Reason, Message: msg})
		}
	}
	target := func(t authz.WaypointTarget) config.Target {
		ps, ws := cfg.WaypointPolicies(aps, t)
		rules, rws := cfg.WaypointJWTRules(ras, t)
		warnings = append(append(warnings, ws...), rws...)
		return config.Target{Policies: ps, JWTRules: rules}
	}
	for _, key := range slices.Sorted(maps.Keys(b.waypoints)) {
		wp := b.waypoints[key]
		snap := &config.Snapshot{
			Version:  config.Version,
			Gateway:  config.GatewayRef{Namespace: wp.Namespace, Name: wp.Name},
			For:      wp.For,
			Workload: target(authz.WaypointTarget{GatewayNamespace: wp.Namespace, GatewayName: wp.Name}),
		}
		for _, skey := range slices.Sorted(maps.Keys(b.services)) {
			if b.services[skey] != wp {
				continue
			}
			s := svcByKey[skey]
			cs := config.Service{Namespace: s.Namespace, Name: s.Name, Hostname: s.Hostname(c.ClusterDomain)}
			if !s.Headless && s.ClusterIP.IsValid() {
				cs.Addresses = []netip.Addr{s.ClusterIP}
			}
			cs.Target = target(authz.WaypointTarget{GatewayNamespace: wp.Namespace, GatewayName: wp.Name,
				ServiceNamespace: s.Namespace, ServiceName: s.Name})
			cs.Routing = routes[l7route.ServiceKey{Namespace: s.Namespace, Name: s.Name}]
			snap.Services = append(snap.Services, cs)
		}
		out = append(out, snap)
	}
	return out, warnings
}

// requestAuthentications collects the RequestAuthentications of set, the
// deprecated v1beta1 ones converted to v1 (same spec message), sorted by
// namespace/name.
func requestAuthentications(set *manifest.Set) []*securityv1.RequestAuthentication {
	if set == nil {
		return nil
	}
	var out []*securityv1.RequestAuthentication
	for _, o := range set.Objects {
		switch t := o.Obj.(type) {
		case *securityv1.RequestAuthentication:
			out = append(out, t)
		case *securityv1beta1.RequestAuthentication:
			ra := &securityv1.RequestAuthentication{ObjectMeta: *t.ObjectMeta.DeepCopy()}
			proto.Merge(&ra.Spec, &t.Spec)
			out = append(out, ra)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}
