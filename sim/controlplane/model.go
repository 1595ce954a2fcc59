package controlplane

import (
	"net/netip"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"istio.io/api/label"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/config"
	"github.com/ambientlab/ambientlab/dataplane/xds"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/controlplane/authz"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// ClusterID is istiod's default cluster id (CLUSTER_ID), which it stamps on
// every Workload.
const ClusterID = "Kubernetes"

// Resources is everything istiod serves: the workload API for ztunnels and
// waypoints, and one configuration Snapshot per waypoint Gateway.
type Resources struct {
	Addresses      []*workloadapi.Address
	Authorizations []*security.Authorization
	Waypoints      []*config.Snapshot
	// Warnings are the status conditions istiod would write.
	Warnings []authz.Warning
}

// Build computes the resources istiod sends every ztunnel: one Workload per
// pod, one Service per Service, and the Authorizations converted from the
// AuthorizationPolicies and PeerAuthentications in set (policies with
// targetRefs go to waypoints, not here). Outputs are sorted by resource name;
// warnings are the status conditions istiod would write.
func Build(cluster *topology.Cluster, set *manifest.Set, rootNamespace string) ([]*workloadapi.Address, []*security.Authorization, []authz.Warning) {
	r := BuildResources(cluster, set, rootNamespace)
	return r.Addresses, r.Authorizations, r.Warnings
}

// BuildResources is Build plus the waypoints: Services and Workloads bound
// to a waypoint carry its address (waypoint_bind.go), and each waypoint
// Gateway gets its Snapshot (waypoint.go).
func BuildResources(cluster *topology.Cluster, set *manifest.Set, rootNamespace string) Resources {
	aps, pas := istioPolicies(set)
	cfg := authz.Config{RootNamespace: rootNamespace}
	auths, warnings := cfg.Convert(aps, pas)
	bound := bindWaypoints(cluster, set)

	nsLabels := map[string]map[string]string{}
	for _, ns := range cluster.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	services := servicesByPod(cluster)
	var addrs []*workloadapi.Address
	for i := range cluster.Pods {
		p := &cluster.Pods[i]
		w := workloadForPod(cluster, p, captured(p.Labels, nsLabels[p.Namespace]), services[p.Key()])
		w.AuthorizationPolicies = cfg.WorkloadPolicyRefs(aps, pas, p.Namespace, p.Labels)
		if wp := bound.pods[p.Key()]; wp != nil {
			w.Waypoint = wp.address(cluster.ClusterDomain)
		}
		addrs = append(addrs, &workloadapi.Address{Type: &workloadapi.Address_Workload{Workload: w}})
	}
	for i := range cluster.Services {
		s := serviceFor(cluster, &cluster.Services[i])
		if wp := bound.services[cluster.Services[i].Key()]; wp != nil {
			s.Waypoint = wp.address(cluster.ClusterDomain)
		}
		addrs = append(addrs, &workloadapi.Address{Type: &workloadapi.Address_Service{Service: s}})
	}
	sort.Slice(addrs, func(i, j int) bool { return xds.AddressName(addrs[i]) < xds.AddressName(addrs[j]) })
	snaps, wpWarnings := waypointSnapshots(cluster, set, bound, cfg)
	warnings = append(warnings, dedupWarnings(append(bound.warnings, wpWarnings...))...)
	return Resources{Addresses: addrs, Authorizations: auths, Waypoints: snaps, Warnings: warnings}
}

// captured applies the ambient enrollment rule (ambient-semantics.md §9;
// istio `pkg/kube/inject` / CNI `ambientpod`): a pod label
// istio.io/dataplane-mode=none opts out, =ambient opts in, otherwise the
// namespace label decides.
func captured(podLabels, nsLabels map[string]string) bool {
	key := label.IoIstioDataplaneMode.Name
	switch podLabels[key] {
	case "none":
		return false
	case "ambient":
		return true
	}
	return nsLabels[key] == "ambient"
}

// WorkloadUID is the uid istiod gives a Kubernetes pod
// (istio `ambient/workloads.go`: "<cluster>//Pod/<ns>/<name>").
func WorkloadUID(namespace, name string) string {
	return ClusterID + "//Pod/" + namespace + "/" + name
}

func workloadForPod(c *topology.Cluster, p *topology.Pod, isCaptured bool, svcs map[string]*workloadapi.PortList) *workloadapi.Workload {
	w := &workloadapi.Workload{
		Uid: WorkloadUID(p.Namespace, p.Name), Name: p.Name, Namespace: p.Namespace,
		Node: p.Node, ClusterId: ClusterID, TrustDomain: c.TrustDomain, ServiceAccount: p.ServiceAccount,
		Addresses:      [][]byte{p.IP.AsSlice()},
		TunnelProtocol: workloadapi.TunnelProtocol_NONE,
		WorkloadName:   workloadName(p), WorkloadType: workloadapi.WorkloadType_POD,
		Services: svcs, Status: workloadapi.WorkloadStatus_HEALTHY,
	}
	if w.ServiceAccount == "" {
		w.ServiceAccount = "default"
	}
	if p.OwnerKind == "Deployment" {
		w.WorkloadType = workloadapi.WorkloadType_DEPLOYMENT
	}
	w.CanonicalName, w.CanonicalRevision = canonical(p.Labels, w.WorkloadName)
	if isCaptured {
		w.TunnelProtocol = workloadapi.TunnelProtocol_HBONE
	}
	return w
}

func workloadName(p *topology.Pod) string {
	if p.OwnerName != "" {
		return p.OwnerName
	}
	return p.Name
}

// canonical follows istio `pkg/model` CanonicalService labels precedence.
func canonical(l map[string]string, workloadName string) (name, rev string) {
	name, rev = workloadName, "latest"
	for _, k := range []string{"app", "app.kubernetes.io/name", "service.istio.io/canonical-name"} {
		if v := l[k]; v != "" {
			name = v
		}
	}
	for _, k := range []string{"version", "app.kubernetes.io/version", "service.istio.io/canonical-revision"} {
		if v := l[k]; v != "" {
			rev = v
		}
	}
	return name, rev
}

// servicesByPod maps pod key → "<ns>/<hostname>" → service port → target
// port, from the endpoints topology already resolved (named target ports
// are resolved per pod there). Only TCP ports: ztunnel proxies TCP alone.
func servicesByPod(c *topology.Cluster) map[string]map[string]*workloadapi.PortList {
	out := map[string]map[string]*workloadapi.PortList{}
	for _, s := range c.Services {
		key := s.Namespace + "/" + s.Hostname(c.ClusterDomain)
		for _, ep := range s.Endpoints {
			pl := &workloadapi.PortList{}
			for _, sp := range s.Ports {
				tp, ok := ep.TargetPorts[sp.PortKey()]
				if sp.Protocol != topology.ProtocolTCP || !ok {
					continue
				}
				pl.Ports = append(pl.Ports, &workloadapi.Port{ServicePort: uint32(sp.Port), TargetPort: uint32(tp)})
			}
			if out[ep.Pod] == nil {
				out[ep.Pod] = map[string]*workloadapi.PortList{}
			}
			out[ep.Pod][key] = pl
		}
	}
	return out
}

func serviceFor(c *topology.Cluster, s *topology.Service) *workloadapi.Service {
	out := &workloadapi.Service{Name: s.Name, Namespace: s.Namespace, Hostname: s.Hostname(c.ClusterDomain)}
	if !s.Headless && s.ClusterIP.IsValid() {
		out.Addresses = []*workloadapi.NetworkAddress{{Network: "", Address: s.ClusterIP.AsSlice()}}
		out.IpFamilies = ipFamily(s.ClusterIP)
	}
	for _, sp := range s.Ports {
		if sp.Protocol != topology.ProtocolTCP {
			continue
		}
		// A named targetPort is resolved per workload (its services map);
		// istiod sends 0 here then (`ambient/services.go`).
		out.Ports = append(out.Ports, &workloadapi.Port{ServicePort: uint32(sp.Port), TargetPort: uint32(sp.TargetPort),
			AppProtocol: appProtocol(sp)})
	}
	return out
}

// appProtocol is the port's protocol as istiod derives it (istio
// `pkg/config/protocol` FromString over appProtocol, then the port name's
// prefix before "-"): what a waypoint uses to pick L7 or L4 for the port.
func appProtocol(sp topology.ServicePort) workloadapi.AppProtocol {
	name := sp.AppProtocol
	if name == "" {
		name, _, _ = strings.Cut(sp.Name, "-")
	}
	switch strings.ToLower(name) {
	case "http", "http1", "http/1.1":
		return workloadapi.AppProtocol_HTTP11
	case "http2", "h2c", "kubernetes.io/h2c":
		return workloadapi.AppProtocol_HTTP2
	case "grpc", "grpc-web":
		return workloadapi.AppProtocol_GRPC
	case "tcp":
		return workloadapi.AppProtocol_TCP
	case "tls", "https":
		return workloadapi.AppProtocol_TLS
	}
	return workloadapi.AppProtocol_UNKNOWN
}

func ipFamily(a netip.Addr) workloadapi.IPFamilies {
	if a.Is4() {
		return workloadapi.IPFamilies_IPV4_ONLY
	}
	return workloadapi.IPFamilies_IPV6_ONLY
}

// istioPolicies collects the policies of set, converting the deprecated
// v1beta1 API to v1 (same spec message).
func istioPolicies(set *manifest.Set) ([]*securityv1.AuthorizationPolicy, []*securityv1.PeerAuthentication) {
	var aps []*securityv1.AuthorizationPolicy
	var pas []*securityv1.PeerAuthentication
	if set == nil {
		return nil, nil
	}
	for _, o := range set.Objects {
		switch t := o.Obj.(type) {
		case *securityv1.AuthorizationPolicy:
			aps = append(aps, t)
		case *securityv1.PeerAuthentication:
			pas = append(pas, t)
		case *securityv1beta1.AuthorizationPolicy:
			ap := &securityv1.AuthorizationPolicy{ObjectMeta: *t.ObjectMeta.DeepCopy()}
			proto.Merge(&ap.Spec, &t.Spec) // the CRD embeds the proto by value; never copy it
			aps = append(aps, ap)
		case *securityv1beta1.PeerAuthentication:
			pa := &securityv1.PeerAuthentication{ObjectMeta: *t.ObjectMeta.DeepCopy()}
			proto.Merge(&pa.Spec, &t.Spec)
			pas = append(pas, pa)
		}
	}
	return aps, pas
}
