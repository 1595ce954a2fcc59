package topology

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// A waypoint Gateway is deployed as Istio's gateway deployment controller
// does (istio `pilot/pkg/config/kube/gateway/deploymentcontroller.go` and its
// waypoint template): ServiceAccount, Deployment and Service, all named after
// the Gateway in its namespace (legacy forms: "<gateway>-<class>", see
// manifest.Waypoint.DeployedName). They are ordinary objects of the model.
const (
	// LabelComponent marks objects the simulator adds itself.
	LabelComponent = "ambientlab.io/component"
	// ComponentWaypoint is LabelComponent's value on waypoint pods.
	ComponentWaypoint = "waypoint"
	// LabelGatewayName selects a Gateway's pods (istio PR #47229).
	LabelGatewayName = "gateway.networking.k8s.io/gateway-name"
	// LabelGatewayManaged is set by Istio on the pods it deploys.
	LabelGatewayManaged = "gateway.istio.io/managed"
	// WaypointImage stands for the waypoint proxy image; the simulator runs
	// its own waypoint process for it.
	WaypointImage = "ambientlab.io/waypoint:builtin"

	WaypointPortHBONE   = 15008
	WaypointPortStatus  = 15021
	WaypointPortMetrics = 15020
)

// IsWaypointPod reports whether p is a pod of a waypoint Gateway's Deployment.
func IsWaypointPod(p Pod) bool {
	return p.Labels[LabelComponent] == ComponentWaypoint && p.Labels[LabelGatewayName] != ""
}

// waypointObjects returns set's objects with each waypoint Gateway followed by
// the ServiceAccount, Deployment and Service deployed for it, so placement
// follows the file as for user Deployments. An object of the user that
// takes one of those names is an error at the Gateway.
func (r *resolver) waypointObjects() []manifest.Object {
	wps := r.set.Waypoints()
	if len(wps) == 0 {
		return r.set.Objects
	}
	byGateway := map[manifest.Key][]manifest.Object{}
	for _, w := range wps {
		derived := waypointDeployment(w)
		ok := true
		for _, d := range derived {
			if prev, taken := r.set.Get(d.Key()); taken {
				r.errs = append(r.errs, w.Object.ErrorAt("metadata.name",
					"the waypoint's %s %s/%s collides with the %s defined at %s:%d; rename one of them",
					d.GVK.Kind, d.Namespace, d.Name, prev.GVK.Kind, prev.Source.File, prev.Source.Line))
				ok = false
			}
		}
		if ok {
			byGateway[w.Object.Key()] = derived
		}
	}
	out := make([]manifest.Object, 0, len(r.set.Objects)+3*len(wps))
	for _, o := range r.set.Objects {
		out = append(out, o)
		out = append(out, byGateway[o.Key()]...)
	}
	return out
}

// waypointDeployment builds the objects for one waypoint. Their Source is the
// Gateway's, so errors and `get` point at what the user wrote.
func waypointDeployment(w manifest.Waypoint) []manifest.Object {
	ns, name := w.Namespace, w.DeployedName
	podLabels := map[string]string{
		LabelGatewayName:                  w.Name,
		LabelComponent:                    ComponentWaypoint,
		LabelGatewayManaged:               "istio.io-mesh-controller",
		"istio.io/dataplane-mode":         "none",
		"service.istio.io/canonical-name": name,
	}
	selector := map[string]string{LabelGatewayName: w.Name}
	replicas := w.Replicas
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{LabelGatewayName: w.Name}}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: meta()}
	dep := &appsv1.Deployment{ObjectMeta: meta(), Spec: appsv1.DeploymentSpec{
		Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: selector},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{
				Name: "istio-proxy", Image: WaypointImage,
				Ports: []corev1.ContainerPort{
					{Name: "mesh", ContainerPort: WaypointPortHBONE, Protocol: corev1.ProtocolTCP},
					{Name: "status-port", ContainerPort: WaypointPortStatus, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: WaypointPortMetrics, Protocol: corev1.ProtocolTCP},
				},
			}}},
		},
	}}
	monitoring := "http-monitoring"
	svc := &corev1.Service{ObjectMeta: meta(), Spec: corev1.ServiceSpec{
		Selector: selector,
		Ports: []corev1.ServicePort{
			{Name: "mesh", Port: WaypointPortHBONE, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(WaypointPortHBONE)},
			{Name: "status-port", Port: WaypointPortStatus, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(WaypointPortStatus)},
			{Name: "metrics", Port: WaypointPortMetrics, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(WaypointPortMetrics),
				AppProtocol: &monitoring},
		},
	}}
	core := func(kind string) schema.GroupVersionKind { return corev1.SchemeGroupVersion.WithKind(kind) }
	return []manifest.Object{
		{Obj: sa, GVK: core("ServiceAccount"), Class: manifest.ClassCore, Namespace: ns, Name: name, Source: w.Object.Source},
		{Obj: dep, GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Class: manifest.ClassCore, Namespace: ns, Name: name, Source: w.Object.Source},
		{Obj: svc, GVK: core("Service"), Class: manifest.ClassCore, Namespace: ns, Name: name, Source: w.Object.Source},
	}
}
