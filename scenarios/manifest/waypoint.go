package manifest

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

// Waypoint Gateways (ambient-semantics.md §9): a Gateway API Gateway with
// gatewayClassName istio-waypoint and one listener {name: mesh, port: 15008,
// protocol: HBONE}, labelled istio.io/waypoint-for. Older forms made by
// `istioctl x waypoint apply --service-account X` (Istio 1.18-1.20) are
// accepted with a WarnLegacyForm warning naming the current form.
const (
	WaypointGatewayClass = "istio-waypoint"
	// LabelWaypointFor is the Gateway's (or GatewayClass's) traffic type.
	LabelWaypointFor = "istio.io/waypoint-for"
	// AnnotationForServiceAccount is the removed per-service-account binding
	// of the first waypoints (istio#50221).
	AnnotationForServiceAccount = "istio.io/for-service-account"
	// LabelLegacyGatewayName is the pre-1.22 gateway-name label (istio PR #47229).
	LabelLegacyGatewayName = "istio.io/gateway-name"
	// legacyGatewayClass is Istio's ingress class; with an HBONE listener it
	// was an early way to ask for a waypoint.
	legacyGatewayClass = "istio"

	WaypointListenerName = "mesh"
	WaypointListenerPort = 15008
	WaypointProtocol     = "HBONE"
)

// Waypoint for values.
const (
	WaypointForService  = "service"
	WaypointForWorkload = "workload"
	WaypointForAll      = "all"
	WaypointForNone     = "none"
)

// currentWaypointForm is what legacy-form warnings recommend.
const currentWaypointForm = "gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}], " +
	"bound with the label istio.io/use-waypoint on the Namespace, Service or Pod (`istioctl waypoint apply [--for service|workload|all]`)"

// Waypoint is a waypoint Gateway as the simulator deploys it.
type Waypoint struct {
	Object    Object
	Namespace string
	Name      string
	// For is service (default), workload, all or none.
	For string
	// Replicas comes from spec.infrastructure.parametersRef (a ConfigMap
	// with data.deployment: {spec: {replicas: N}}, Istio 1.24+), else 1.
	Replicas int32
	// Legacy is set for the older istioctl forms; LegacyServiceAccount is
	// their istio.io/for-service-account ("" = the whole namespace). Such a
	// waypoint serves its namespace's pods (of that service account) as a
	// workload waypoint, which is what those releases did without labels.
	Legacy               bool
	LegacyServiceAccount string
	// Programmed is the Gateway's Programmed status condition, which the
	// deployment controller sets once a waypoint pod is ready (the simulator
	// sets it when it publishes the control plane's input). istiod binds
	// Services and pods only to a programmed waypoint (istio
	// `ambient/waypoints.go`: no status address, no waypoint).
	Programmed bool
	// allowedFrom and allowedSelector are the HBONE listener's
	// allowedRoutes.namespaces: which namespaces may use the waypoint.
	allowedFrom     gatewayv1.FromNamespaces
	allowedSelector labels.Selector
	// DeployedName names the ServiceAccount, Deployment and Service deployed
	// for the Gateway: its own name (Istio 1.22+ for istio-waypoint), or for
	// the legacy forms "<name>-<gatewayClassName>" as Istio named them then
	// (so a waypoint named after the service account it serves did not
	// collide with that service account).
	DeployedName string
}

// Key is "namespace/name".
func (w Waypoint) Key() string { return w.Namespace + "/" + w.Name }

// AllowsNamespace reports whether objects of namespace ns (with labels
// nsLabels) may use the waypoint: its HBONE listener's
// allowedRoutes.namespaces, default Same (istio `ambient/waypoints.go`
// AllowsAttachmentFromNamespace).
func (w Waypoint) AllowsNamespace(ns string, nsLabels map[string]string) bool {
	switch w.allowedFrom {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		return w.allowedSelector != nil && w.allowedSelector.Matches(labels.Set(nsLabels))
	}
	return ns == w.Namespace
}

// allowedRoutesOf reads allowedRoutes.namespaces of the listener on 15008.
func allowedRoutesOf(gw *gatewayv1.Gateway) (gatewayv1.FromNamespaces, labels.Selector) {
	for _, l := range gw.Spec.Listeners {
		if l.Port != WaypointListenerPort || l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil {
			continue
		}
		from := gatewayv1.NamespacesFromSame
		if f := l.AllowedRoutes.Namespaces.From; f != nil {
			from = *f
		}
		sel, err := metav1.LabelSelectorAsSelector(l.AllowedRoutes.Namespaces.Selector)
		if err != nil {
			sel = labels.Nothing()
		}
		return from, sel
	}
	return gatewayv1.NamespacesFromSame, nil
}

// DeployedKey is "namespace/<DeployedName>", the key of its Service.
func (w Waypoint) DeployedKey() string { return w.Namespace + "/" + w.DeployedName }

// gatewayOf returns the v1 view of a Gateway object (v1beta1 has the same layout).
func gatewayOf(o Object) (*gatewayv1.Gateway, bool) {
	switch t := o.Obj.(type) {
	case *gatewayv1.Gateway:
		return t, true
	case *gatewayv1beta1.Gateway:
		return (*gatewayv1.Gateway)(t), true
	}
	return nil, false
}

// isWaypointGateway reports whether o is a waypoint Gateway in the current
// or a legacy form (legacy: class istio-waypoint with a protocol ALL
// listener, or class istio with an HBONE listener).
func isWaypointGateway(o Object) (gw *gatewayv1.Gateway, legacy, ok bool) {
	gw, ok = gatewayOf(o)
	if !ok {
		return nil, false, false
	}
	switch string(gw.Spec.GatewayClassName) {
	case WaypointGatewayClass:
		_, hasSA := gw.Annotations[AnnotationForServiceAccount]
		for _, l := range gw.Spec.Listeners {
			if l.Protocol == "ALL" {
				return gw, true, true
			}
		}
		return gw, hasSA, true
	case legacyGatewayClass:
		for _, l := range gw.Spec.Listeners {
			if l.Protocol == WaypointProtocol && l.Port == WaypointListenerPort {
				return gw, true, true
			}
		}
	}
	return nil, false, false
}

// waypointFor reads the label (or, legacy, the annotation: istio#50618).
func waypointFor(gw *gatewayv1.Gateway) string {
	if v, ok := gw.Labels[LabelWaypointFor]; ok {
		return v
	}
	if v, ok := gw.Annotations[LabelWaypointFor]; ok {
		return v
	}
	return WaypointForService
}

// classWaypointFor is the istio.io/waypoint-for label of the GatewayClass
// named class in s, "" when absent: a Gateway without its own value takes
// its class's (ambient-semantics §9; istio `ambient/waypoints.go`).
func (s *Set) classWaypointFor(class string) string {
	for _, o := range s.Objects {
		switch t := o.Obj.(type) {
		case *gatewayv1.GatewayClass:
			if t.Name == class {
				return t.Labels[LabelWaypointFor]
			}
		case *gatewayv1beta1.GatewayClass:
			if t.Name == class {
				return t.Labels[LabelWaypointFor]
			}
		}
	}
	return ""
}

// ownWaypointFor reports whether the Gateway sets waypoint-for itself.
func ownWaypointFor(gw *gatewayv1.Gateway) bool {
	_, l := gw.Labels[LabelWaypointFor]
	_, a := gw.Annotations[LabelWaypointFor]
	return l || a
}

// Waypoints returns the waypoint Gateways of s, sorted by namespace/name.
func (s *Set) Waypoints() []Waypoint {
	var out []Waypoint
	for _, o := range s.Objects {
		gw, legacy, ok := isWaypointGateway(o)
		if !ok {
			continue
		}
		w := Waypoint{Object: o, Namespace: o.Namespace, Name: o.Name, For: waypointFor(gw), Replicas: 1, Legacy: legacy,
			DeployedName: o.Name, Programmed: meta.IsStatusConditionTrue(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))}
		w.allowedFrom, w.allowedSelector = allowedRoutesOf(gw)
		if v := s.classWaypointFor(string(gw.Spec.GatewayClassName)); !ownWaypointFor(gw) && v != "" {
			w.For = v
		}
		if legacy {
			w.DeployedName = o.Name + "-" + string(gw.Spec.GatewayClassName)
			w.LegacyServiceAccount = gw.Annotations[AnnotationForServiceAccount]
			if _, labelled := gw.Labels[LabelWaypointFor]; !labelled {
				w.For = WaypointForWorkload
			}
		}
		if n, _, ok := waypointReplicas(s, o.Namespace, gw); ok {
			w.Replicas = n
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// WithProgrammed returns a copy of the waypoint Gateway o whose Programmed
// condition says whether a pod of its Deployment is ready, as Istio's
// deployment controller reports it; other objects are returned unchanged.
func WithProgrammed(o Object, programmed bool) Object {
	gw, _, ok := isWaypointGateway(o)
	if !ok {
		return o
	}
	cp := gw.DeepCopy()
	cond := metav1.Condition{Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue,
		Reason: string(gatewayv1.GatewayReasonProgrammed), Message: "a waypoint pod is ready", ObservedGeneration: cp.Generation}
	if !programmed {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "NoReadyPods", "no waypoint pod is ready"
	}
	meta.SetStatusCondition(&cp.Status.Conditions, cond)
	if _, isBeta := o.Obj.(*gatewayv1beta1.Gateway); isBeta {
		o.Obj = (*gatewayv1beta1.Gateway)(cp)
	} else {
		o.Obj = cp
	}
	return o
}

// deploymentParameters is the part of a parametersRef ConfigMap's
// data.deployment that the simulator honours (istio
// `pilot/pkg/config/kube/gateway/deploymentcontroller.go` applies the whole
// value as a strategic merge patch; only replicas changes what runs here).
type deploymentParameters struct {
	Spec struct {
		Replicas *int32 `json:"replicas"`
	} `json:"spec"`
}

// waypointReplicas follows spec.infrastructure.parametersRef. ok is false
// when there is no usable reference; problem names what is wrong with one.
func waypointReplicas(s *Set, ns string, gw *gatewayv1.Gateway) (n int32, problem string, ok bool) {
	if gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
		return 0, "", false
	}
	ref := gw.Spec.Infrastructure.ParametersRef
	if ref.Group != "" || ref.Kind != "ConfigMap" {
		return 0, fmt.Sprintf("kind %s/%s is not supported (use group \"\", kind ConfigMap)", ref.Group, ref.Kind), false
	}
	o, found := s.Get(Key{Kind: "ConfigMap", Namespace: ns, Name: ref.Name})
	if !found {
		return 0, fmt.Sprintf("ConfigMap %s/%s not found", ns, ref.Name), false
	}
	cm := o.Obj.(*corev1.ConfigMap)
	raw, present := cm.Data["deployment"]
	if !present {
		return 0, "", false
	}
	var p deploymentParameters
	if err := yaml.Unmarshal([]byte(raw), &p); err != nil {
		return 0, fmt.Sprintf("ConfigMap %s/%s data.deployment: %v", ns, ref.Name, err), false
	}
	if p.Spec.Replicas == nil {
		return 0, "", false
	}
	if r := *p.Spec.Replicas; r < 0 || r > MaxReplicas {
		return 0, fmt.Sprintf("ConfigMap %s/%s data.deployment: spec.replicas must be between 0 and %d, got %d", ns, ref.Name, MaxReplicas, r), false
	}
	return *p.Spec.Replicas, "", true
}

// waypointGateway validates a waypoint Gateway and warns about legacy forms.
func (v *validator) waypointGateway(o Object) {
	gw, legacy, ok := isWaypointGateway(o)
	if !ok {
		return
	}
	switch f := waypointFor(gw); f {
	case WaypointForService, WaypointForWorkload, WaypointForAll, WaypointForNone:
	default:
		v.errorf(o, `metadata.labels["`+LabelWaypointFor+`"]`, "%q is not service, workload, all or none", f)
	}
	if _, ok := gw.Annotations[LabelWaypointFor]; ok {
		v.warnf(o, WarnLegacyForm, `metadata.annotations["`+LabelWaypointFor+`"]`,
			"istio.io/waypoint-for as an annotation is a legacy form (istio#50618); use the label")
	}
	if _, ok := gw.Labels[LabelLegacyGatewayName]; ok {
		v.warnf(o, WarnLegacyForm, `metadata.labels["`+LabelLegacyGatewayName+`"]`,
			"label istio.io/gateway-name is a legacy form; waypoint pods carry gateway.networking.k8s.io/gateway-name (istio PR #47229)")
	}
	if len(gw.Spec.Listeners) != 1 {
		v.errorf(o, "spec.listeners", "a waypoint Gateway has exactly one listener {name: mesh, port: 15008, protocol: HBONE}, got %d", len(gw.Spec.Listeners))
	}
	for i, l := range gw.Spec.Listeners {
		p := fmt.Sprintf("spec.listeners[%d]", i)
		if l.Port != WaypointListenerPort {
			v.errorf(o, p+".port", "a waypoint listener uses port %d, got %d", WaypointListenerPort, l.Port)
		}
		switch {
		case l.Protocol == WaypointProtocol:
		case l.Protocol == "ALL" && legacy:
			v.warnf(o, WarnLegacyForm, p+".protocol", "protocol ALL is a legacy form of `istioctl x waypoint apply`; use %s", currentWaypointForm)
		default:
			v.errorf(o, p+".protocol", "a waypoint listener uses protocol HBONE, got %q", l.Protocol)
		}
		if l.Name != WaypointListenerName {
			v.errorf(o, p+".name", "a waypoint listener is named %q, got %q", WaypointListenerName, l.Name)
		}
	}
	if string(gw.Spec.GatewayClassName) == legacyGatewayClass {
		v.warnf(o, WarnLegacyForm, "spec.gatewayClassName",
			"gatewayClassName istio with an HBONE listener is a legacy waypoint form, deployed as a workload waypoint for its namespace; use %s", currentWaypointForm)
	}
	if sa, ok := gw.Annotations[AnnotationForServiceAccount]; ok {
		v.warnf(o, WarnLegacyForm, `metadata.annotations["`+AnnotationForServiceAccount+`"]`,
			"istio.io/for-service-account is a removed legacy form (istio#50221), applied here to the pods of service account %q as a workload waypoint; use %s", sa, currentWaypointForm)
	}
	if _, problem, _ := waypointReplicas(v.set, o.Namespace, gw); problem != "" {
		v.errorf(o, "spec.infrastructure.parametersRef", "%s", problem)
	}
}
