package cluster

import (
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// Kubernetes-shaped views of the running cluster, so `get -o yaml|json` prints
// objects kubectl users recognise and tools can parse with the official types.

// Get returns a JSON v1 List of nodes, pods or services.
func (c *Cluster) Get(kind string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch kind {
	case "nodes", "node", "no":
		return json.Marshal(c.nodeList())
	case "pods", "pod", "po":
		return json.Marshal(c.podList())
	case "services", "service", "svc":
		return json.Marshal(c.serviceList())
	}
	return nil, fmt.Errorf("unknown resource type %q: want nodes, pods or svc", kind)
}

func (c *Cluster) nodeList() *corev1.NodeList {
	l := &corev1.NodeList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	for _, n := range c.model.Nodes {
		l.Items = append(l.Items, corev1.Node{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: metav1.NewTime(c.started)},
			Spec:       corev1.NodeSpec{PodCIDR: n.PodCIDR.String(), PodCIDRs: []string{n.PodCIDR.String()}},
			Status: corev1.NodeStatus{
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.IP.String()}, {Type: corev1.NodeHostName, Address: n.Name}},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "ambientlab-netns", OperatingSystem: "linux", Architecture: "amd64"},
			},
		})
	}
	return l
}

func (c *Cluster) podList() *corev1.PodList {
	l := &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	nodeIP := map[string]string{}
	for _, n := range c.model.Nodes {
		nodeIP[n.Name] = n.IP.String()
	}
	for _, p := range c.model.Pods {
		pod := corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Name: p.Name, Namespace: p.Namespace, UID: types.UID(p.UID),
				Labels: p.Labels, Annotations: withRedirection(p.Annotations, c.captured[p.Key()]),
			},
			Spec: corev1.PodSpec{NodeName: p.Node, ServiceAccountName: p.ServiceAccount, Hostname: p.Hostname, Subdomain: p.Subdomain},
			Status: corev1.PodStatus{
				Phase: corev1.PodPending, PodIP: p.IP.String(), PodIPs: []corev1.PodIP{{IP: p.IP.String()}},
				HostIP: nodeIP[p.Node],
			},
		}
		if p.OwnerKind != "" {
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: p.OwnerKind, Name: p.OwnerName}}
		}
		for _, ct := range p.Containers {
			spec := corev1.Container{Name: ct.Name, Image: ct.Image, Command: ct.Command, Args: ct.Args}
			for _, port := range ct.Ports {
				spec.Ports = append(spec.Ports, corev1.ContainerPort{Name: port.Name, ContainerPort: int32(port.Port), Protocol: corev1.Protocol(port.Protocol)})
			}
			pod.Spec.Containers = append(pod.Spec.Containers, spec)
		}
		if pr := c.pods[p.Key()]; pr != nil {
			_, started := pr.snapshot()
			pod.CreationTimestamp = metav1.NewTime(started)
			allReady := true
			for _, ct := range pr.containers {
				ct.mu.Lock()
				st := corev1.ContainerStatus{Name: ct.spec.Name, Image: ct.spec.Image, Ready: ct.ready, RestartCount: int32(ct.restarts)}
				if ct.running {
					st.State.Running = &corev1.ContainerStateRunning{}
				} else {
					st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: ct.lastExit}
				}
				allReady = allReady && ct.ready
				ct.mu.Unlock()
				pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, st)
			}
			pod.Status.Phase = corev1.PodRunning
			cond := corev1.ConditionFalse
			if allReady {
				cond = corev1.ConditionTrue
			}
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}
		}
		l.Items = append(l.Items, pod)
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := l.Items[i], l.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return l
}

func (c *Cluster) serviceList() *corev1.ServiceList {
	l := &corev1.ServiceList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	for _, s := range c.model.Services {
		svc := corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels, CreationTimestamp: metav1.NewTime(c.started)},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: s.Selector},
		}
		if s.Headless {
			svc.Spec.ClusterIP = corev1.ClusterIPNone
		} else {
			svc.Spec.ClusterIP = s.ClusterIP.String()
			svc.Spec.ClusterIPs = []string{s.ClusterIP.String()}
		}
		for _, p := range s.Ports {
			sp := corev1.ServicePort{Name: p.Name, Port: int32(p.Port), Protocol: corev1.Protocol(p.Protocol)}
			if p.AppProtocol != "" {
				ap := p.AppProtocol
				sp.AppProtocol = &ap
			}
			if p.TargetPortName != "" {
				sp.TargetPort = intstr.FromString(p.TargetPortName)
			} else {
				sp.TargetPort = intstr.FromInt32(int32(p.TargetPort))
			}
			svc.Spec.Ports = append(svc.Spec.Ports, sp)
		}
		l.Items = append(l.Items, svc)
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := l.Items[i], l.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return l
}

// EndpointsOf returns a Service's endpoints from the model (for tests and dumps).
func EndpointsOf(m *topology.Cluster, ns, name string) []topology.Endpoint {
	for _, s := range m.Services {
		if s.Namespace == ns && s.Name == name {
			return s.Endpoints
		}
	}
	return nil
}
