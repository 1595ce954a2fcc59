package manifest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BuiltinNamespaces always exist, as in a fresh cluster with Istio installed.
var BuiltinNamespaces = []string{"default", "istio-system", "kube-system"}

// DefaultServiceAccount exists in every namespace.
const DefaultServiceAccount = "default"

// MaxReplicas bounds one Deployment; the address plan has far fewer pod IPs.
const MaxReplicas = 1000

// Validate runs every check that needs more than one document and recomputes
// s.Warnings. It reports all problems at once as a sorted ErrorList.
func (s *Set) Validate() error {
	v := &validator{set: s, first: map[Key]Object{}, namespaces: map[string]bool{}, sas: map[string]bool{},
		pods: newPodIndex(s.Objects)}
	for _, ns := range BuiltinNamespaces {
		v.namespaces[ns] = true
	}
	for _, o := range s.Objects {
		v.warnings = append(v.warnings, o.warnings...)
		if prev, dup := v.first[o.Key()]; dup {
			v.errs = append(v.errs, o.ErrorAt("metadata.name", "duplicate %s; first defined at %s:%d",
				o.GVK.Kind, prev.Source.File, prev.Source.Line))
			continue
		}
		v.first[o.Key()] = o
		switch t := o.Obj.(type) {
		case *corev1.Namespace:
			v.namespaces[t.Name] = true
		case *corev1.ServiceAccount:
			v.sas[o.Namespace+"/"+o.Name] = true
		}
	}
	for _, o := range s.Objects {
		v.object(o)
	}
	sortWarnings(v.warnings)
	if err := v.errs.errOrNil(); err != nil {
		return err
	}
	s.Warnings = v.warnings
	return nil
}

type validator struct {
	set        *Set
	first      map[Key]Object
	namespaces map[string]bool
	sas        map[string]bool // "ns/name"
	pods       podIndex
	errs       ErrorList
	warnings   []Warning
}

func (v *validator) errorf(o Object, path, format string, args ...any) {
	v.errs = append(v.errs, o.ErrorAt(path, format, args...))
}

func (v *validator) warnf(o Object, code WarningCode, path, format string, args ...any) {
	v.warnings = append(v.warnings, Warning{Code: code, Err: *o.ErrorAt(path, format, args...)})
}

func (v *validator) object(o Object) {
	v.metadata(o)
	switch t := o.Obj.(type) {
	case *appsv1.Deployment:
		v.deployment(o, t)
	case *corev1.Pod:
		v.podSpec(o, "spec", &t.Spec)
	case *corev1.Service:
		v.service(o, t)
	default:
		v.waypointGateway(o)
	}
}

func (v *validator) metadata(o Object) {
	if o.Name == "" {
		v.errorf(o, "metadata.name", "required")
	} else {
		var msgs []string
		switch o.GVK.Kind {
		case "Namespace":
			msgs = validation.IsDNS1123Label(o.Name)
		case "Service":
			if o.GVK.Group == "" {
				msgs = validation.IsDNS1035Label(o.Name)
			} else {
				msgs = validation.IsDNS1123Subdomain(o.Name)
			}
		default:
			msgs = validation.IsDNS1123Subdomain(o.Name)
		}
		for _, m := range msgs {
			v.errorf(o, "metadata.name", "invalid name %q: %s", o.Name, m)
		}
	}
	if o.Namespace != "" {
		if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
			v.errorf(o, "metadata.namespace", "invalid namespace %q: %s", o.Namespace, strings.Join(msgs, "; "))
		} else if !v.namespaces[o.Namespace] {
			v.errorf(o, "metadata.namespace", "namespace %q is not declared (add a Namespace object)", o.Namespace)
		}
	}
	if m, ok := o.Obj.(metav1.ObjectMetaAccessor); ok {
		v.fieldErrors(o, metavalidation.ValidateLabels(m.GetObjectMeta().GetLabels(), field.NewPath("metadata", "labels")))
	}
}

func (v *validator) fieldErrors(o Object, l field.ErrorList) {
	for _, e := range l {
		v.errorf(o, e.Field, "%s", e.ErrorBody())
	}
}

func (v *validator) deployment(o Object, d *appsv1.Deployment) {
	if d.Spec.Replicas != nil && (*d.Spec.Replicas < 0 || *d.Spec.Replicas > MaxReplicas) {
		v.errorf(o, "spec.replicas", "must be between 0 and %d, got %d", MaxReplicas, *d.Spec.Replicas)
	}
	tl := d.Spec.Template.Labels
	v.fieldErrors(o, metavalidation.ValidateLabels(tl, field.NewPath("spec", "template", "metadata", "labels")))
	switch sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); {
	case d.Spec.Selector == nil:
		v.errorf(o, "spec.selector", "required")
	case err != nil:
		v.errorf(o, "spec.selector", "invalid selector: %v", err)
	case sel.Empty():
		v.errorf(o, "spec.selector", "empty selector would select every pod; it must match spec.template.metadata.labels")
	case !sel.Matches(labels.Set(tl)):
		v.errorf(o, "spec.selector", "selector %q does not match template labels %v", sel.String(), labels.Set(tl))
	}
	v.podSpec(o, "spec.template.spec", &d.Spec.Template.Spec)
}

func (v *validator) podSpec(o Object, p string, spec *corev1.PodSpec) {
	sa := spec.ServiceAccountName
	saField := p + ".serviceAccountName"
	if sa == "" && spec.DeprecatedServiceAccount != "" {
		sa, saField = spec.DeprecatedServiceAccount, p+".serviceAccount"
	}
	if sa != "" && sa != DefaultServiceAccount && !v.sas[o.Namespace+"/"+sa] {
		v.errorf(o, saField, "ServiceAccount %s/%s not found", o.Namespace, sa)
	}
	for _, f := range []struct{ name, v string }{{"hostname", spec.Hostname}, {"subdomain", spec.Subdomain}} {
		if f.v != "" {
			for _, m := range validation.IsDNS1123Label(f.v) {
				v.errorf(o, p+"."+f.name, "%s", m)
			}
		}
	}
	if len(spec.Containers) == 0 {
		v.errorf(o, p+".containers", "at least one container is required")
	}
	names := map[string]bool{}
	portNames := map[string]bool{}
	ports := map[string]bool{}
	for i, c := range spec.Containers {
		cp := fmt.Sprintf("%s.containers[%d]", p, i)
		if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
			v.errorf(o, cp+".name", "invalid container name %q: %s", c.Name, strings.Join(msgs, "; "))
		} else if names[c.Name] {
			v.errorf(o, cp+".name", "duplicate container name %q", c.Name)
		}
		names[c.Name] = true
		if c.Image == "" {
			v.errorf(o, cp+".image", "required")
		}
		for j, port := range c.Ports {
			pp := fmt.Sprintf("%s.ports[%d]", cp, j)
			if port.ContainerPort < 1 || port.ContainerPort > 65535 {
				v.errorf(o, pp+".containerPort", "port %d out of range 1-65535", port.ContainerPort)
			}
			if !validProtocol(port.Protocol) {
				v.errorf(o, pp+".protocol", "unsupported protocol %q (TCP, UDP or SCTP)", port.Protocol)
			}
			key := string(protocolOrTCP(port.Protocol)) + "/" + strconv.Itoa(int(port.ContainerPort))
			if ports[key] {
				v.errorf(o, pp+".containerPort", "duplicate container port %s", key)
			}
			ports[key] = true
			if port.Name == "" {
				continue
			}
			if msgs := validation.IsValidPortName(port.Name); len(msgs) > 0 {
				v.errorf(o, pp+".name", "invalid port name %q: %s", port.Name, strings.Join(msgs, "; "))
			} else if portNames[port.Name] {
				v.errorf(o, pp+".name", "duplicate port name %q", port.Name)
			}
			portNames[port.Name] = true
		}
	}
}

func validProtocol(p corev1.Protocol) bool {
	return p == "" || p == corev1.ProtocolTCP || p == corev1.ProtocolUDP || p == corev1.ProtocolSCTP
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (v *validator) service(o Object, svc *corev1.Service) {
	switch svc.Spec.Type {
	case "", corev1.ServiceTypeClusterIP:
	case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		v.warnf(o, WarnIgnoredField, "spec.type", "type %s is simulated as ClusterIP", svc.Spec.Type)
	default:
		v.errorf(o, "spec.type", "unsupported Service type %q", svc.Spec.Type)
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			v.errorf(o, "spec.clusterIP", "%q is not an IPv4 address or \"None\"", ip)
		}
	}
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	if len(svc.Spec.Ports) == 0 && !headless {
		v.errorf(o, "spec.ports", "at least one port is required")
	}
	names := map[string]bool{}
	for i, sp := range svc.Spec.Ports {
		pp := fmt.Sprintf("spec.ports[%d]", i)
		if sp.Port < 1 || sp.Port > 65535 {
			v.errorf(o, pp+".port", "port %d out of range 1-65535", sp.Port)
		}
		if !validProtocol(sp.Protocol) {
			v.errorf(o, pp+".protocol", "unsupported protocol %q (TCP, UDP or SCTP)", sp.Protocol)
		}
		if len(svc.Spec.Ports) > 1 && sp.Name == "" {
			v.errorf(o, pp+".name", "required when a Service has more than one port")
		}
		if sp.Name != "" {
			if names[sp.Name] {
				v.errorf(o, pp+".name", "duplicate port name %q", sp.Name)
			}
			names[sp.Name] = true
		}
		tp := sp.TargetPort
		switch {
		case tp.Type == intstr.Int && tp.IntVal != 0 && (tp.IntVal < 1 || tp.IntVal > 65535):
			v.errorf(o, pp+".targetPort", "port %d out of range 1-65535", tp.IntVal)
		case tp.Type == intstr.String:
			if msgs := validation.IsValidPortName(tp.StrVal); len(msgs) > 0 {
				v.errorf(o, pp+".targetPort", "invalid port name %q: %s", tp.StrVal, strings.Join(msgs, "; "))
			}
		}
	}
	if len(svc.Spec.Selector) == 0 {
		v.warnf(o, WarnNoSelector, "spec", "no selector: ambientlab has no manual Endpoints, so the Service never has endpoints")
		return
	}
	selected := v.pods.selectPods(o.Namespace, svc.Spec.Selector)
	if len(selected) == 0 {
		v.warnf(o, WarnEmptySelector, "spec.selector", "selector %v selects no pod", labels.Set(svc.Spec.Selector))
		return
	}
	for i, sp := range svc.Spec.Ports {
		if sp.TargetPort.Type != intstr.String || sp.TargetPort.StrVal == "" {
			continue
		}
		if !anyDeclaresPort(selected, sp.TargetPort.StrVal, protocolOrTCP(sp.Protocol)) {
			v.errorf(o, fmt.Sprintf("spec.ports[%d].targetPort", i),
				"no selected pod declares a %s container port named %q", protocolOrTCP(sp.Protocol), sp.TargetPort.StrVal)
		}
	}
}

func anyDeclaresPort(pods []Object, name string, proto corev1.Protocol) bool {
	for _, o := range pods {
		t, _ := o.PodTemplate()
		for _, c := range t.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == name && protocolOrTCP(p.Protocol) == proto {
					return true
				}
			}
		}
	}
	return false
}

// SelectPods returns the Pods and Deployments (with at least one replica) in
// namespace whose pod labels match selector, in input order. An empty
// selector selects nothing, as for Services.
func (s *Set) SelectPods(namespace string, selector map[string]string) []Object {
	return newPodIndex(s.Objects).selectPods(namespace, selector)
}

// podIndex finds pod-producing objects by namespace and label pair, so that
// validating thousands of Services stays near-linear.
type podIndex map[string]map[string][]Object // namespace -> "key=value" -> objects in input order

func newPodIndex(objs []Object) podIndex {
	idx := podIndex{}
	for _, o := range objs {
		t, ok := o.PodTemplate()
		if !ok {
			continue
		}
		if d, isDep := o.Obj.(*appsv1.Deployment); isDep && d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
			continue
		}
		if idx[o.Namespace] == nil {
			idx[o.Namespace] = map[string][]Object{}
		}
		for k, val := range t.Labels {
			idx[o.Namespace][k+"="+val] = append(idx[o.Namespace][k+"="+val], o)
		}
	}
	return idx
}

func (idx podIndex) selectPods(namespace string, selector map[string]string) []Object {
	if len(selector) == 0 {
		return nil
	}
	// Every selected object carries every selector pair, so scanning the
	// shortest candidate list and checking the rest is exact.
	var candidates []Object
	first := true
	for k, val := range selector {
		l := idx[namespace][k+"="+val]
		if first || len(l) < len(candidates) {
			candidates, first = l, false
		}
	}
	sel := labels.SelectorFromSet(selector)
	var out []Object
	for _, o := range candidates {
		if t, _ := o.PodTemplate(); sel.Matches(labels.Set(t.Labels)) {
			out = append(out, o)
		}
	}
	return out
}

// RequireEndpoints turns the empty-selector warning into an error for the
// Services a caller needs (keys "namespace/name"): a missing Service, a
// Service without a selector or one selecting no pod is reported with
// file:line and field spec.selector.
func (s *Set) RequireEndpoints(serviceKeys ...string) error {
	var errs ErrorList
	for _, key := range serviceKeys {
		ns, name, ok := strings.Cut(key, "/")
		if !ok {
			errs = append(errs, &Error{Msg: fmt.Sprintf("required Service %q: want namespace/name", key)})
			continue
		}
		o, found := s.Get(Key{Kind: "Service", Namespace: ns, Name: name})
		if !found {
			errs = append(errs, &Error{Kind: "Service", Namespace: ns, Name: name, Msg: "required Service is not defined"})
			continue
		}
		svc := o.Obj.(*corev1.Service)
		if len(s.SelectPods(ns, svc.Spec.Selector)) == 0 {
			errs = append(errs, o.ErrorAt("spec.selector", "selects no pod, but endpoints of this Service are required"))
		}
	}
	return errs.errOrNil()
}
