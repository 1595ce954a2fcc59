package manifest

import (
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Class says what ambientlab does with objects of a kind.
type Class int

const (
	// ClassCore kinds are materialized into the cluster model (topology.Resolve).
	ClassCore Class = iota + 1
	// ClassDeferred kinds (Istio, Gateway API) are decoded and validated
	// strictly and reported as "accepted, not yet enforced"; never dropped.
	ClassDeferred
	// ClassExtension kinds are ambientlab's own (e.g. Scenario), registered by
	// the package that owns them.
	ClassExtension
)

func (c Class) String() string {
	switch c {
	case ClassCore:
		return "core"
	case ClassDeferred:
		return "deferred"
	case ClassExtension:
		return "extension"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Decoder decodes one document, given as JSON (the loader converts YAML with
// sigs.k8s.io/yaml), strictly into a typed object. Problems that can be tied
// to a field should be returned as FieldErrors so that the loader can report
// their lines; any other error is reported at the document.
type Decoder func(json []byte) (runtime.Object, error)

// KindSpec registers one apiVersion+kind with the loader.
type KindSpec struct {
	GVK        schema.GroupVersionKind
	Class      Class
	Namespaced bool
	// Deprecated versions are accepted with a WarnDeprecatedAPIVersion warning
	// naming Preferred, the version new manifests should use.
	Deprecated bool
	Preferred  string
	// Decode, when nil, is the shared strict scheme decoder (plus the strict
	// protojson pass for Istio kinds).
	Decode Decoder
}

var registry = struct {
	sync.RWMutex
	byGVK map[schema.GroupVersionKind]KindSpec
}{byGVK: map[schema.GroupVersionKind]KindSpec{}}

// Register adds a kind to the loader. It is how later work plugs in
// `ambientlab.io/v1alpha1 Scenario` without touching this package; call it
// from an init function. Registering a GVK twice is an error.
func Register(spec KindSpec) error {
	if spec.GVK.Kind == "" || spec.GVK.Version == "" {
		return fmt.Errorf("manifest: register %v: version and kind are required", spec.GVK)
	}
	if spec.Class == 0 {
		return fmt.Errorf("manifest: register %v: class is required", spec.GVK)
	}
	if spec.Decode == nil {
		if !scheme.Recognizes(spec.GVK) {
			return fmt.Errorf("manifest: register %v: not in the scheme and no Decode given", spec.GVK)
		}
		spec.Decode = schemeDecoder(spec.GVK)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.byGVK[spec.GVK]; dup {
		return fmt.Errorf("manifest: register %v: already registered", spec.GVK)
	}
	registry.byGVK[spec.GVK] = spec
	return nil
}

// Lookup returns the registration for gvk.
func Lookup(gvk schema.GroupVersionKind) (KindSpec, bool) {
	registry.RLock()
	defer registry.RUnlock()
	s, ok := registry.byGVK[gvk]
	return s, ok
}

// versionsOf lists the registered apiVersions of a group+kind, sorted, for
// "use one of" hints.
func versionsOf(gk schema.GroupKind) []string {
	registry.RLock()
	defer registry.RUnlock()
	var out []string
	for gvk := range registry.byGVK {
		if gvk.GroupKind() == gk {
			out = append(out, gvk.GroupVersion().String())
		}
	}
	sort.Strings(out)
	return out
}

// RegisteredKinds lists every registered GVK, sorted, for docs and errors.
func RegisteredKinds() []KindSpec {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]KindSpec, 0, len(registry.byGVK))
	for _, s := range registry.byGVK {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GVK.String() < out[j].GVK.String() })
	return out
}

// Built-in kinds: the core kinds the simulator materializes, and the Istio
// 1.31 / Gateway API 1.6 kinds of conventions.md §3 in their current version
// plus the older versions Istio still serves (deprecated).
func init() {
	core := []struct {
		group, kind string
		namespaced  bool
	}{
		{"", "Namespace", false},
		{"", "ServiceAccount", true},
		{"", "Service", true},
		{"", "Pod", true},
		{"", "ConfigMap", true}, // only as a waypoint's spec.infrastructure.parametersRef
		{"apps", "Deployment", true},
	}
	for _, k := range core {
		gv := schema.GroupVersion{Group: k.group, Version: "v1"}
		mustRegister(KindSpec{GVK: gv.WithKind(k.kind), Class: ClassCore, Namespaced: k.namespaced})
	}

	deferred := []struct {
		group      string
		current    string
		older      []string
		kinds      []string
		namespaced bool
	}{
		{"security.istio.io", "v1", []string{"v1beta1"},
			[]string{"AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"}, true},
		{"networking.istio.io", "v1", []string{"v1beta1", "v1alpha3"},
			[]string{"VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar", "WorkloadEntry", "WorkloadGroup"}, true},
		{"telemetry.istio.io", "v1", []string{"v1alpha1"}, []string{"Telemetry"}, true},
		{"gateway.networking.k8s.io", "v1", []string{"v1beta1"},
			[]string{"Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "TCPRoute", "TLSRoute", "UDPRoute", "ListenerSet", "BackendTLSPolicy"}, true},
		{"gateway.networking.k8s.io", "v1", []string{"v1beta1"}, []string{"GatewayClass"}, false},
	}
	for _, d := range deferred {
		for _, kind := range d.kinds {
			gvk := schema.GroupVersionKind{Group: d.group, Version: d.current, Kind: kind}
			mustRegister(KindSpec{GVK: gvk, Class: ClassDeferred, Namespaced: d.namespaced})
			for _, v := range d.older {
				old := schema.GroupVersionKind{Group: d.group, Version: v, Kind: kind}
				// Only versions the upstream scheme still has: e.g. Gateway API
				// v1beta1 has Gateway and HTTPRoute but no TCPRoute, and v1alpha2
				// routes are not served by the v1.6 CRDs at all.
				if !scheme.Recognizes(old) {
					continue
				}
				mustRegister(KindSpec{GVK: old, Class: ClassDeferred, Namespaced: d.namespaced,
					Deprecated: true, Preferred: gvk.GroupVersion().String()})
			}
		}
	}
}

func mustRegister(s KindSpec) {
	if err := Register(s); err != nil {
		panic(err)
	}
}
