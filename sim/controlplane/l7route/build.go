package l7route

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// ServiceKey names a Service.
type ServiceKey struct{ Namespace, Name string }

func (k ServiceKey) String() string { return k.Namespace + "/" + k.Name }

// Warning is one finding, shaped like the status condition istiod would
// write on the object (Gateway API route conditions; for VirtualServices
// the analyzer message).
type Warning struct {
	Kind      string // HTTPRoute, VirtualService, TCPRoute
	Namespace string
	Name      string
	// Field is the path of the offending field ("spec.rules[0].backendRefs[1]").
	Field string
	// Condition is the status condition set to False (ResolvedRefs,
	// Accepted), or "" for an informational finding.
	Condition string
	// Reason is the condition reason (BackendNotFound, RefNotPermitted,
	// InvalidKind, UnsupportedValue, NoMatchingParent) or "Unsupported".
	Reason  string
	Message string
}

func (w Warning) String() string {
	s := fmt.Sprintf("%s %s/%s", w.Kind, w.Namespace, w.Name)
	if w.Field != "" {
		s += " " + w.Field
	}
	if w.Condition != "" {
		s += fmt.Sprintf(": %s=False (%s)", w.Condition, w.Reason)
	}
	return s + ": " + w.Message
}

// Condition names and reasons (Gateway API RouteConditionType/Reason).
const (
	condAccepted      = "Accepted"
	condResolvedRefs  = "ResolvedRefs"
	reasonNotFound    = "BackendNotFound"
	reasonNotAllowed  = "RefNotPermitted"
	reasonInvalidKind = "InvalidKind"
	reasonUnsupported = "UnsupportedValue"
	reasonNoParent    = "NoMatchingParent"
)

// Build converts every route object in set that attaches to a Service of
// cluster. Services without routes have no entry (they route to
// themselves). Tables are validated; warnings are sorted by object.
func Build(cluster *topology.Cluster, set *manifest.Set) (map[ServiceKey]*route.Table, []Warning) {
	b := &builder{cluster: cluster, set: set, services: map[ServiceKey]*topology.Service{},
		blocks: map[ServiceKey][]block{}}
	for i := range cluster.Services {
		s := &cluster.Services[i]
		b.services[ServiceKey{s.Namespace, s.Name}] = s
	}
	for order, o := range set.Objects {
		switch obj := o.Obj.(type) {
		case *gatewayv1.HTTPRoute:
			b.httpRoute(order, obj.Namespace, obj.Name, &obj.Spec)
		case *gatewayv1beta1.HTTPRoute:
			b.httpRoute(order, obj.Namespace, obj.Name, &obj.Spec)
		case *networkingv1.VirtualService:
			b.virtualService(order, obj.Namespace, obj.Name, &obj.Spec)
		case *networkingv1beta1.VirtualService:
			b.virtualService(order, obj.Namespace, obj.Name, &obj.Spec)
		case *networkingv1alpha3.VirtualService:
			b.virtualService(order, obj.Namespace, obj.Name, &obj.Spec)
		case *gatewayv1.TCPRoute:
			b.tcpRoute(order, obj)
		}
	}
	return b.tables(), b.warnings
}

// block is the routes one object (a VirtualService) or one group (all
// HTTPRoutes of a Service) contributes, placed by creation order.
type block struct {
	order  int
	source route.Source
	owner  string // "<ns>/<name>" of the object, for warnings
	http   []route.HTTPRoute
	prec   []route.Precedence // HTTPRoute blocks only
	tcp    []route.TCPRoute
}

type builder struct {
	cluster  *topology.Cluster
	set      *manifest.Set
	services map[ServiceKey]*topology.Service
	blocks   map[ServiceKey][]block
	warnings []Warning
}

func (b *builder) warn(kind, ns, name, field, cond, reason, format string, args ...any) {
	b.warnings = append(b.warnings, Warning{Kind: kind, Namespace: ns, Name: name, Field: field,
		Condition: cond, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// addHTTPRouteBlock merges HTTPRoute-derived routes into the Service's one
// HTTPRoute block (istiod generates one VirtualService per parent from all
// its HTTPRoutes, sorted by precedence).
func (b *builder) addHTTPRouteBlock(svc ServiceKey, order int, owner string, rs []route.HTTPRoute, prec []route.Precedence) {
	bs := b.blocks[svc]
	for i := range bs {
		if bs[i].source == route.SourceHTTPRoute {
			bs[i].http = append(bs[i].http, rs...)
			bs[i].prec = append(bs[i].prec, prec...)
			bs[i].order = min(bs[i].order, order)
			return
		}
	}
	b.blocks[svc] = append(bs, block{order: order, source: route.SourceHTTPRoute, owner: owner, http: rs, prec: prec})
}

func (b *builder) tables() map[ServiceKey]*route.Table {
	out := map[ServiceKey]*route.Table{}
	keys := make([]ServiceKey, 0, len(b.blocks))
	for k := range b.blocks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y ServiceKey) int { return strings.Compare(x.String(), y.String()) })
	for _, k := range keys {
		bs := b.blocks[k]
		slices.SortStableFunc(bs, func(x, y block) int { return x.order - y.order })
		t := &route.Table{}
		var kinds []string
		for _, bl := range bs {
			if bl.source == route.SourceHTTPRoute {
				route.SortByPrecedence(bl.http, bl.prec)
			}
			if len(bl.http) > 0 && !slices.Contains(kinds, string(bl.source)) {
				kinds = append(kinds, string(bl.source))
			}
			t.HTTP = append(t.HTTP, bl.http...)
			if len(t.TCP) == 0 {
				t.TCP = append(t.TCP, bl.tcp...) // the oldest TCPRoute wins
			}
		}
		if len(kinds) > 1 {
			b.warn("Service", k.Namespace, k.Name, "", "", "Unsupported",
				"both VirtualServices and HTTPRoutes route this Service; Istio does not support mixing them, so (like istiod) their routes are merged in creation order and the first match wins")
		}
		if err := t.Validate("service " + k.String()); err != nil {
			b.warn("Service", k.Namespace, k.Name, "", condAccepted, reasonUnsupported, "routes dropped: %v", err)
			continue
		}
		out[k] = t
	}
	slices.SortStableFunc(b.warnings, func(x, y Warning) int {
		return strings.Compare(x.Kind+"/"+x.Namespace+"/"+x.Name, y.Kind+"/"+y.Namespace+"/"+y.Name)
	})
	return out
}

// backend resolves a Service reference; port 0 means "the request's port"
// (only VirtualService destinations without a port on a multi-port Service).
func (b *builder) backend(key ServiceKey, port uint16, weight uint32) (route.Backend, error) {
	be := route.Backend{Service: key.String(), Port: port, Weight: weight}
	svc, ok := b.services[key]
	if !ok {
		return be, fmt.Errorf("service %s not found", key)
	}
	be.Hostname = svc.Hostname(b.cluster.ClusterDomain)
	if svc.Headless || !svc.ClusterIP.IsValid() {
		return be, fmt.Errorf("service %s is headless: no VIP to route to", key)
	}
	if port != 0 && !slices.ContainsFunc(svc.Ports, func(p topology.ServicePort) bool { return p.Port == port }) {
		return be, fmt.Errorf("service %s has no port %d", key, port)
	}
	be.Address = netip.AddrPortFrom(svc.ClusterIP, port)
	return be, nil
}
