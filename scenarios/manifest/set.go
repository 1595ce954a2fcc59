package manifest

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Source locates an object in its input.
type Source struct {
	File string
	Line int // 1-based line of the document's first content line
	Doc  int // 1-based document index within File
}

// Object is one strictly decoded manifest object.
type Object struct {
	// Obj is the typed object (*corev1.Service, *appsv1.Deployment,
	// *securityv1.AuthorizationPolicy, ...). Treat it as read-only.
	Obj       runtime.Object
	GVK       schema.GroupVersionKind
	Class     Class
	Namespace string // "" for cluster-scoped kinds; "default" when omitted
	Name      string
	Source    Source

	loc      *locator  // line lookup for field paths
	warnings []Warning // decode-time findings (deprecated apiVersion, not enforced)
}

// Key identifies an object across apiVersions: a v1beta1 and a v1
// AuthorizationPolicy with the same name are the same object.
type Key struct {
	Group, Kind, Namespace, Name string
}

func (k Key) String() string { return objectLabel(k.Kind, k.Namespace, k.Name) }

// Key returns the object's identity.
func (o Object) Key() Key {
	return Key{Group: o.GVK.Group, Kind: o.GVK.Kind, Namespace: o.Namespace, Name: o.Name}
}

// FieldLine returns the file line of a field path such as
// "spec.template.spec.serviceAccountName" or "spec.ports[1].targetPort",
// falling back to the deepest existing parent and then to the document.
func (o Object) FieldLine(path string) int {
	if o.loc == nil {
		return o.Source.Line
	}
	if path == "" {
		return o.loc.first
	}
	return o.loc.line(path, "")
}

// ErrorAt builds an Error about this object at a field path. Resolvers use it
// so that their errors carry file:line:field like decoding errors do.
func (o Object) ErrorAt(path, format string, args ...any) *Error {
	return &Error{
		File: o.Source.File, Line: o.FieldLine(path), Doc: o.Source.Doc,
		Kind: o.GVK.Kind, Namespace: o.Namespace, Name: o.Name,
		Field: path, Msg: fmt.Sprintf(format, args...),
	}
}

// PodTemplate is the pod-producing part of a Pod or Deployment.
type PodTemplate struct {
	Labels, Annotations map[string]string
	Spec                *corev1.PodSpec
	// SpecPath is the field path of Spec within the object, for ErrorAt.
	SpecPath string
}

// PodTemplate returns the pod template of a Pod or Deployment.
func (o Object) PodTemplate() (PodTemplate, bool) {
	switch t := o.Obj.(type) {
	case *corev1.Pod:
		return PodTemplate{Labels: t.Labels, Annotations: t.Annotations, Spec: &t.Spec, SpecPath: "spec"}, true
	case *appsv1.Deployment:
		tm := t.Spec.Template.ObjectMeta
		return PodTemplate{Labels: tm.Labels, Annotations: tm.Annotations, Spec: &t.Spec.Template.Spec,
			SpecPath: "spec.template.spec"}, true
	}
	return PodTemplate{}, false
}

// Set is a validated collection of objects in input order.
type Set struct {
	Objects []Object
	// Warnings are non-fatal findings, sorted by location. They are data; the
	// library never prints them.
	Warnings []Warning
}

// Get finds an object by key.
func (s *Set) Get(k Key) (Object, bool) {
	for _, o := range s.Objects {
		if o.Key() == k {
			return o, true
		}
	}
	return Object{}, false
}

// Merge applies other onto s with `kubectl apply` semantics: objects with the
// same key are replaced in place, new ones appended. The result is validated
// as a whole; on error s is left unchanged.
func (s *Set) Merge(other *Set) error {
	idx := make(map[Key]int, len(s.Objects))
	next := append([]Object(nil), s.Objects...)
	for i, o := range next {
		idx[o.Key()] = i
	}
	for _, o := range other.Objects {
		if i, ok := idx[o.Key()]; ok {
			next[i] = o
			continue
		}
		idx[o.Key()] = len(next)
		next = append(next, o)
	}
	cand := &Set{Objects: next}
	if err := cand.Validate(); err != nil {
		return err
	}
	*s = *cand
	return nil
}

// Remove deletes other's objects from s with `kubectl delete` semantics
// (matched by key; deleting a Namespace deletes what is in it). Deleting an
// absent object is an error naming it. The remainder must still validate
// (e.g. a ServiceAccount still referenced by a Deployment cannot be deleted);
// on any error s is left unchanged.
func (s *Set) Remove(other *Set) (removed []Object, err error) {
	present := make(map[Key]bool, len(s.Objects))
	for _, o := range s.Objects {
		present[o.Key()] = true
	}
	var errs ErrorList
	drop := map[Key]bool{}
	droppedNS := map[string]bool{}
	for _, o := range other.Objects {
		if !present[o.Key()] {
			errs = append(errs, o.ErrorAt("", "cannot delete: %s not found", o.Key()))
			continue
		}
		drop[o.Key()] = true
		if o.GVK.Group == "" && o.GVK.Kind == "Namespace" {
			droppedNS[o.Name] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs.Sort()
	}
	var keep []Object
	for _, o := range s.Objects {
		if drop[o.Key()] || (o.Namespace != "" && droppedNS[o.Namespace]) {
			removed = append(removed, o)
			continue
		}
		keep = append(keep, o)
	}
	cand := &Set{Objects: keep}
	if err := cand.Validate(); err != nil {
		return nil, err
	}
	*s = *cand
	return removed, nil
}
