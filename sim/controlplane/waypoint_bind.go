package controlplane

import (
	"fmt"
	"maps"
	"slices"

	"istio.io/api/label"
	"istio.io/istio/pkg/workloadapi"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/controlplane/authz"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// Waypoint attachment (ambient-semantics.md §9; istio
// `pilot/pkg/serviceregistry/kube/controller/ambient/waypoints.go`):
//   - a Service uses the waypoint named by its istio.io/use-waypoint label,
//     else by its Namespace's; a Pod likewise with its own label;
//   - istio.io/use-waypoint-namespace, on the same object, names the
//     waypoint's namespace (default: the object's);
//   - "none" opts out (a Service or Pod label beats a Namespace label);
//   - a Service gets the waypoint only if it is for service or all traffic,
//     a Pod only if for workload or all;
//   - a waypoint's own pods and Service never use a waypoint;
//   - a named waypoint that does not exist, or is not Programmed (no ready
//     pod yet), gives no waypoint (traffic goes direct, istio.io PR #17520)
//     and a warning.
//
// Legacy waypoints (`istioctl x waypoint apply --service-account`) bound
// without labels: the pods of their namespace (of the annotated service
// account) use them as workload waypoints unless labelled otherwise.

// waypointHBONEPort is the port ztunnel dials on a waypoint.
const waypointHBONEPort = topology.WaypointPortHBONE

// Warning reasons and texts: istiod's status messages (istio
// `ambient/waypoints.go` ReportWaypoint*), plus WaypointNotFound for a name
// that resolves to no waypoint at all.
const (
	reasonWaypointNotFound = "WaypointNotFound"
	reasonNotReady         = "WaypointIsNotReady"
	reasonAttachment       = "AttachmentDenied"
	reasonTrafficType      = "UnsupportedTrafficType"
	notReadyFmt            = "waypoint %q is not ready"
	attachmentDeniedFmt    = "we are not permitted to attach to waypoint %q (missing allowedRoutes?)"
	trafficTypeFmt         = "attempting to bind to traffic type %q which the waypoint %q does not support"
)

// boundWaypoint is one deployed waypoint: its Gateway and its Service.
type boundWaypoint struct {
	manifest.Waypoint
	service *topology.Service
}

// address is the GatewayAddress ztunnel routes to: the waypoint Service by
// hostname, as istiod prefers it from the Gateway's status (a hostname names
// a whole Service; an IP would have to be looked up again).
func (w *boundWaypoint) address(domain string) *workloadapi.GatewayAddress {
	return &workloadapi.GatewayAddress{
		Destination: &workloadapi.GatewayAddress_Hostname{Hostname: &workloadapi.NamespacedHostname{
			Namespace: w.service.Namespace, Hostname: w.service.Hostname(domain)}},
		HboneMtlsPort: waypointHBONEPort,
	}
}

func (w *boundWaypoint) forServices() bool {
	return w.For == manifest.WaypointForService || w.For == manifest.WaypointForAll
}

func (w *boundWaypoint) forWorkloads() bool {
	return w.For == manifest.WaypointForWorkload || w.For == manifest.WaypointForAll
}

// bindings is the result of attachment: waypoint per Service key and per
// pod key ("ns/name"), plus the warnings.
type bindings struct {
	waypoints map[string]*boundWaypoint // by gateway "ns/name"
	nsLabels  map[string]map[string]string
	services  map[string]*boundWaypoint
	pods      map[string]*boundWaypoint
	warnings  []authz.Warning
}

// bindWaypoints applies the attachment rules to every Service and pod.
func bindWaypoints(c *topology.Cluster, set *manifest.Set) *bindings {
	b := &bindings{waypoints: map[string]*boundWaypoint{}, services: map[string]*boundWaypoint{}, pods: map[string]*boundWaypoint{}}
	svcByKey := map[string]*topology.Service{}
	for i := range c.Services {
		svcByKey[c.Services[i].Key()] = &c.Services[i]
	}
	if set != nil {
		for _, w := range set.Waypoints() {
			svc := svcByKey[w.DeployedKey()]
			if svc == nil || svc.Headless || !svc.ClusterIP.IsValid() {
				continue // not deployed (yet): as missing
			}
			b.waypoints[w.Key()] = &boundWaypoint{Waypoint: w, service: svc}
		}
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range c.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	b.nsLabels = nsLabels
	own := map[string]bool{}
	for _, wp := range b.waypoints {
		own[wp.DeployedKey()] = true
	}
	for i := range c.Services {
		s := &c.Services[i]
		if own[s.Key()] {
			continue // a waypoint's own Service
		}
		wp, from := b.lookup(s.Namespace, s.Labels, nsLabels[s.Namespace], "Service", s.Name)
		if wp != nil && wp.forServices() {
			b.services[s.Key()] = wp
		} else if wp != nil && from.kind == "Service" {
			b.warn(from, reasonTrafficType, fmt.Sprintf(trafficTypeFmt, manifest.WaypointForService, wp.Key()))
		}
	}
	for i := range c.Pods {
		p := &c.Pods[i]
		if topology.IsWaypointPod(*p) || p.System {
			continue
		}
		wp, _ := b.lookup(p.Namespace, p.Labels, nsLabels[p.Namespace], "Pod", p.Name)
		if wp == nil {
			wp = b.legacyFor(p)
		}
		if wp != nil && wp.forWorkloads() {
			b.pods[p.Key()] = wp
		}
	}
	return b
}

// warnSource names the object whose label picked a waypoint.
type warnSource struct{ kind, ns, name string }

func (b *bindings) warn(from warnSource, reason, msg string) {
	b.warnings = append(b.warnings, authz.Warning{Kind: from.kind, Namespace: from.ns, Name: from.name,
		Reason: reason, Message: msg})
}

// lookup resolves the use-waypoint labels of an object (own) and its
// namespace. A missing waypoint is warned about once per labelled object.
func (b *bindings) lookup(ns string, own, nsl map[string]string, kind, name string) (*boundWaypoint, warnSource) {
	useKey, nsKey := label.IoIstioUseWaypoint.Name, label.IoIstioUseWaypointNamespace.Name
	labels, from := own, warnSource{kind, ns, name}
	if _, ok := own[useKey]; !ok {
		labels, from = nsl, warnSource{"Namespace", "", ns}
	}
	wpName := labels[useKey]
	if wpName == "" || wpName == "none" {
		return nil, from
	}
	wpNS := ns
	if v := labels[nsKey]; v != "" {
		wpNS = v
	}
	wp := b.waypoints[wpNS+"/"+wpName]
	switch {
	case wp == nil:
		what := fmt.Sprintf("%s %s/%s", from.kind, from.ns, from.name)
		if from.kind == "Namespace" {
			what = "Namespace " + from.name + " (its Services and pods)"
		}
		b.warn(from, reasonWaypointNotFound, fmt.Sprintf("%s: waypoint %s/%s does not exist; traffic goes directly to the destination and waypoint policies are not applied",
			what, wpNS, wpName))
	case !wp.Programmed:
		b.warn(from, reasonNotReady, fmt.Sprintf(notReadyFmt, wp.Key())+"; traffic goes directly to the destination")
		return nil, from
	case !wp.AllowsNamespace(ns, b.nsLabels[ns]):
		b.warn(from, reasonAttachment, fmt.Sprintf(attachmentDeniedFmt, wp.Key()))
		return nil, from
	}
	return wp, from
}

// legacyFor finds a legacy waypoint that serves p without labels.
// One for the pod's service account beats a namespace-wide one.
func (b *bindings) legacyFor(p *topology.Pod) *boundWaypoint {
	var nsWide *boundWaypoint
	for _, key := range slices.Sorted(maps.Keys(b.waypoints)) {
		wp := b.waypoints[key]
		switch {
		case !wp.Legacy || !wp.Programmed || wp.Namespace != p.Namespace:
		case wp.LegacyServiceAccount == p.ServiceAccount:
			return wp
		case wp.LegacyServiceAccount == "" && nsWide == nil:
			nsWide = wp
		}
	}
	return nsWide
}

// dedupWarnings drops repeated warnings (one per labelled namespace, not
// one per object in it).
func dedupWarnings(ws []authz.Warning) []authz.Warning {
	seen := map[authz.Warning]bool{}
	var out []authz.Warning
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}
