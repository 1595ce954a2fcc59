package scenarios

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// podRef checks "ns/pod" or "ns/deploy/name" against the objects at this
// step and returns the namespace.
func (c *compiler) podRef(field, ref string) string {
	ns, kind, name, err := ParsePodRef(ref)
	if err != nil {
		c.errorf(field, "%v", err)
		return ""
	}
	if c.current == nil {
		return ns
	}
	switch kind {
	case "Pod":
		if _, ok := c.current.Get(manifest.Key{Kind: "Pod", Namespace: ns, Name: name}); !ok {
			c.errorf(field, "pod %s/%s is not defined in this file at this step (for a Deployment's pod write %s/deploy/NAME)", ns, name, ns)
		}
	case "Deployment":
		o, ok := c.current.Get(manifest.Key{Group: "apps", Kind: "Deployment", Namespace: ns, Name: name})
		if !ok {
			c.errorf(field, "deployment %s/%s is not defined in this file at this step", ns, name)
			break
		}
		if d := o.Obj.(*appsv1.Deployment); d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
			c.errorf(field, "deployment %s/%s has no replicas", ns, name)
		}
	}
	return ns
}

// ParsePodRef parses "ns/pod" or "ns/deploy/name" (also deployment/,
// deployments/) into namespace, kind ("Pod" or "Deployment") and name.
func ParsePodRef(ref string) (ns, kind, name string, err error) {
	parts := strings.Split(ref, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], "Pod", parts[1], nil
	case len(parts) == 3 && parts[0] != "" && parts[2] != "" &&
		(parts[1] == "deploy" || parts[1] == "deployment" || parts[1] == "deployments"):
		return parts[0], "Deployment", parts[2], nil
	}
	return "", "", "", fmt.Errorf("%q: want NAMESPACE/POD or NAMESPACE/deploy/NAME", ref)
}

// serviceHost checks that a cluster host name resolves to a Service (with
// that port) at this step. IP literals and names outside the cluster domain
// are not checked: they may be meant to fail.
func (c *compiler) serviceHost(field, host string, port int, srcNS string) {
	if c.current == nil || host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	var ns, svc string
	switch {
	case len(labels) == 1:
		ns, svc = srcNS, labels[0]
	case len(labels) == 2:
		ns, svc = labels[1], labels[0]
	case len(labels) >= 3 && labels[len(labels)-3] == "svc" && strings.Join(labels[len(labels)-2:], ".") == "cluster.local":
		if len(labels) < 5 {
			c.errorf(field, "host %q: want SERVICE.NAMESPACE.svc.cluster.local", host)
			return
		}
		ns, svc = labels[len(labels)-4], labels[len(labels)-5]
	case len(labels) == 3 && labels[2] == "svc":
		ns, svc = labels[1], labels[0]
	default:
		return // an external name; not ours to check
	}
	if ns == "" {
		return
	}
	if !c.namespaceExists(ns) {
		c.errorf(field, "host %q: namespace %q is not defined in this file", host, ns)
		return
	}
	o, ok := c.current.Get(manifest.Key{Kind: "Service", Namespace: ns, Name: svc})
	if !ok {
		c.errorf(field, "host %q: Service %s/%s is not defined in this file at this step", host, ns, svc)
		return
	}
	s := o.Obj.(*corev1.Service)
	headless := s.Spec.ClusterIP == corev1.ClusterIPNone
	var ports []string
	for _, p := range s.Spec.Ports {
		if int(p.Port) == port {
			return
		}
		ports = append(ports, fmt.Sprint(p.Port))
	}
	if headless {
		return // headless names resolve to pod IPs; any container port may be meant
	}
	c.errorf(field, "host %q: Service %s/%s has no port %d (ports: %s)", host, ns, svc, port, strings.Join(ports, ", "))
}

func (c *compiler) namespaceExists(ns string) bool {
	for _, b := range manifest.BuiltinNamespaces {
		if b == ns {
			return true
		}
	}
	_, ok := c.current.Get(manifest.Key{Kind: "Namespace", Name: ns})
	return ok
}

// Placeholders let a scenario name addresses that exist only at run time:
//
//	${podIP:NS/POD}  ${podIP:NS/deploy/NAME}   the pod's IP
//	${podName:NS/deploy/NAME}                  the pod's generated name
//	${clusterIP:NS/SERVICE}                    the Service's VIP
var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z]*):?([^}]*)\}`)

// Placeholder functions.
const (
	PlaceholderPodIP     = "podIP"
	PlaceholderPodName   = "podName"
	PlaceholderClusterIP = "clusterIP"
)

// checkPlaceholders reports bad placeholders in s and returns s with every
// placeholder replaced by a stand-in value of the right shape, for syntax
// checks of the surrounding URL or address.
func (c *compiler) checkPlaceholders(field, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	out, err := Expand(s, func(fn, arg string) (string, error) {
		switch fn {
		case PlaceholderPodIP, PlaceholderPodName:
			c.podRef(field, arg)
			if fn == PlaceholderPodName {
				return "pod", nil
			}
			return "198.18.0.1", nil
		case PlaceholderClusterIP:
			ns, name, ok := strings.Cut(arg, "/")
			if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
				return "", fmt.Errorf("${clusterIP:%s}: want NAMESPACE/SERVICE", arg)
			}
			if c.current != nil {
				o, found := c.current.Get(manifest.Key{Kind: "Service", Namespace: ns, Name: name})
				if !found {
					return "", fmt.Errorf("${clusterIP:%s}: Service %s is not defined in this file at this step", arg, arg)
				}
				if o.Obj.(*corev1.Service).Spec.ClusterIP == corev1.ClusterIPNone {
					return "", fmt.Errorf("${clusterIP:%s}: Service %s is headless", arg, arg)
				}
			}
			return "198.18.0.1", nil
		}
		return "", fmt.Errorf("unknown placeholder ${%s:...}; want podIP, podName or clusterIP", fn)
	})
	if err != nil {
		c.errorf(field, "%v", err)
	}
	return out
}

// Expand replaces every ${fn:arg} in s with lookup(fn, arg). It returns the
// first lookup error; a "${" without a closing brace is an error too.
func Expand(s string, lookup func(fn, arg string) (string, error)) (string, error) {
	var firstErr error
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		v, err := lookup(sub[1], sub[2])
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	if firstErr == nil && strings.Contains(out, "${") {
		firstErr = fmt.Errorf("unterminated placeholder in %q", s)
	}
	return out, firstErr
}

// impliedByManifests records the capabilities objects need to have any
// effect, so a scenario that relies on them is never run, and never passes,
// on a backend that only accepts them.
func (c *compiler) impliedByManifests(set *manifest.Set) {
	for _, o := range set.Objects {
		switch o.GVK.Group + "/" + o.GVK.Kind {
		case "security.istio.io/AuthorizationPolicy", "security.istio.io/PeerAuthentication":
			c.req[CapZtunnel] = true
		case "security.istio.io/RequestAuthentication", "gateway.networking.k8s.io/HTTPRoute", "gateway.networking.k8s.io/GRPCRoute":
			c.req[CapWaypoint] = true
		case "gateway.networking.k8s.io/Gateway":
			c.req[CapWaypoint] = true
		case "/Namespace":
			l := o.Obj.(*corev1.Namespace).Labels
			if l["istio.io/dataplane-mode"] == "ambient" {
				c.req[CapZtunnel] = true
			}
			if l["istio-injection"] == "enabled" || l["istio.io/rev"] != "" {
				c.req[CapSidecar] = true
			}
		}
	}
}
