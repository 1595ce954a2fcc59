package workloadapi

import (
	"net/netip"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func wireWorkload(uid, ns, name, addr string) *workloadapi.Workload {
	return &workloadapi.Workload{
		Uid: uid, Name: name, Namespace: ns, ServiceAccount: "sa-" + name, Node: "node-0",
		ClusterId: "Kubernetes", TrustDomain: "cluster.local", Addresses: [][]byte{ip(addr)},
		TunnelProtocol: workloadapi.TunnelProtocol_HBONE,
	}
}

func asWorkload(w *workloadapi.Workload) *workloadapi.Address {
	return &workloadapi.Address{Type: &workloadapi.Address_Workload{Workload: w}}
}

func asService(s *workloadapi.Service) *workloadapi.Address {
	return &workloadapi.Address{Type: &workloadapi.Address_Service{Service: s}}
}

func wireService(ns, name, vip string, port, target uint32) *workloadapi.Service {
	return &workloadapi.Service{
		Name: name, Namespace: ns, Hostname: name + "." + ns + ".svc.cluster.local",
		Addresses: []*workloadapi.NetworkAddress{{Address: ip(vip)}},
		Ports:     []*workloadapi.Port{{ServicePort: port, TargetPort: target}},
	}
}

func wireAllowFrom(ns, name, principal string) *security.Authorization {
	return &security.Authorization{
		Name: name, Namespace: ns, Scope: security.Scope_WORKLOAD_SELECTOR, Action: security.Action_ALLOW,
		Groups: []*security.Group{{Rules: []*security.Rules{{Matches: []*security.Match{{
			Principals: []*security.StringMatch{{MatchType: &security.StringMatch_Exact{Exact: principal}}},
		}}}}}},
	}
}
