package l7route

import (
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

const kindTCPRoute = "TCPRoute"

// tcpRoute converts a TCPRoute with Service parents into a weighted TCP
// split. The first rule is used (TCPRoute rules have no matches; more than
// one rule on a mesh parent is ambiguous and istiod uses the first too).
func (b *builder) tcpRoute(order int, obj *gatewayv1.TCPRoute) {
	ns, name := obj.Namespace, obj.Name
	parents := b.serviceParents(kindTCPRoute, ns, name, obj.Spec.ParentRefs)
	if len(parents) == 0 || len(obj.Spec.Rules) == 0 {
		return
	}
	if len(obj.Spec.Rules) > 1 {
		b.warn(kindTCPRoute, ns, name, "spec.rules", "", "Unsupported", "only the first rule of a TCPRoute is used")
	}
	rt := route.TCPRoute{Name: fmt.Sprintf("%s/%s/0", ns, name)}
	for bi, ref := range obj.Spec.Rules[0].BackendRefs {
		weight := uint32(1)
		if ref.Weight != nil {
			weight = uint32(max(*ref.Weight, 0))
		}
		rt.Backends = append(rt.Backends, b.backendRef(kindTCPRoute, ns, name,
			fmt.Sprintf("spec.rules[0].backendRefs[%d]", bi), ref.BackendObjectReference, weight))
	}
	for svc := range parents {
		b.blocks[svc] = append(b.blocks[svc], block{order: order, source: route.SourceTCPRoute,
			owner: ns + "/" + name, tcp: []route.TCPRoute{rt}})
	}
}
