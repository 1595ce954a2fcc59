package l7route

import (
	"fmt"
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

const kindHTTPRoute = "HTTPRoute"

// serviceParents returns the Services a route's parentRefs name (GAMMA:
// group "" or core, kind Service) with the parentRef port (0: all ports).
// Only producer routes (in the Service's namespace) are applied at the
// waypoint: istiod's waypoint only takes routes from the Service's or the
// waypoint's namespace (getVirtualServiceForWaypoint).
func (b *builder) serviceParents(kind, ns, name string, parents []gatewayv1.ParentReference) map[ServiceKey][]uint16 {
	out := map[ServiceKey][]uint16{}
	for i, p := range parents {
		field := fmt.Sprintf("spec.parentRefs[%d]", i)
		group, pkind := gatewayv1.GroupName, "Gateway"
		if p.Group != nil {
			group = string(*p.Group)
		}
		if p.Kind != nil {
			pkind = string(*p.Kind)
		}
		if pkind != "Service" || (group != "" && group != "core") {
			continue // an ingress Gateway parent: not the waypoint's business
		}
		key := ServiceKey{ns, string(p.Name)}
		if p.Namespace != nil && string(*p.Namespace) != ns {
			b.warn(kind, ns, name, field, "", "Unsupported",
				"consumer route for Service %s/%s: the waypoint applies only routes in the Service's namespace", *p.Namespace, p.Name)
			continue
		}
		svc, ok := b.services[key]
		if !ok {
			b.warn(kind, ns, name, field, condAccepted, reasonNoParent, "parent Service %s not found", key)
			continue
		}
		var port uint16
		if p.Port != nil {
			port = uint16(*p.Port)
			found := false
			for _, sp := range svc.Ports {
				found = found || sp.Port == port
			}
			if !found {
				b.warn(kind, ns, name, field, condAccepted, reasonNoParent, "parent Service %s has no port %d", key, port)
				continue
			}
		}
		out[key] = append(out[key], port)
	}
	return out
}

func (b *builder) httpRoute(order int, ns, name string, spec *gatewayv1.HTTPRouteSpec) {
	parents := b.serviceParents(kindHTTPRoute, ns, name, spec.ParentRefs)
	if len(parents) == 0 {
		return
	}
	var rs []route.HTTPRoute
	var prec []route.Precedence
	for ri := range spec.Rules {
		rule := &spec.Rules[ri]
		field := fmt.Sprintf("spec.rules[%d]", ri)
		base, ok := b.httpRuleAction(ns, name, field, rule)
		if !ok {
			continue
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gatewayv1.HTTPRouteMatch{{}} // the API default: PathPrefix "/"
		}
		for mi, m := range matches {
			r := base
			r.Name = fmt.Sprintf("%s/%s/%d/%d", ns, name, ri, mi)
			if rule.Name != nil {
				r.Name = fmt.Sprintf("%s/%s/%s/%d", ns, name, *rule.Name, mi)
			}
			match, err := convertHTTPMatch(m)
			if err != nil {
				b.warn(kindHTTPRoute, ns, name, fmt.Sprintf("%s.matches[%d]", field, mi), condAccepted, reasonUnsupported, "%v", err)
				continue
			}
			r.Match = match
			rs = append(rs, r)
			prec = append(prec, route.Precedence{Created: order, Key: ns + "/" + name, Rule: ri, Match: mi})
		}
	}
	for svc, ports := range parents {
		for _, port := range ports {
			cp := make([]route.HTTPRoute, len(rs))
			for i := range rs {
				cp[i] = rs[i]
				cp[i].Port = port
			}
			b.addHTTPRouteBlock(svc, order, ns+"/"+name, cp, append([]route.Precedence(nil), prec...))
		}
	}
}

func convertHTTPMatch(m gatewayv1.HTTPRouteMatch) (route.Match, error) {
	var out route.Match
	if p := m.Path; p != nil {
		typ, val := gatewayv1.PathMatchPathPrefix, "/"
		if p.Type != nil {
			typ = *p.Type
		}
		if p.Value != nil {
			val = *p.Value
		}
		switch typ {
		case gatewayv1.PathMatchExact:
			out.Path = &route.PathMatch{Type: route.PathExact, Value: val}
		case gatewayv1.PathMatchPathPrefix:
			out.Path = &route.PathMatch{Type: route.PathPrefix, Value: val}
		case gatewayv1.PathMatchRegularExpression:
			out.Path = &route.PathMatch{Type: route.PathRegex, Value: val}
		default:
			return out, fmt.Errorf("path match type %q unsupported", typ)
		}
	}
	for _, h := range m.Headers {
		typ := route.StringExact
		if h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression {
			typ = route.StringRegex
		}
		out.Headers = append(out.Headers, route.HeaderMatch{Name: strings.ToLower(string(h.Name)), Type: typ, Value: h.Value})
	}
	for _, q := range m.QueryParams {
		typ := route.StringExact
		if q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression {
			typ = route.StringRegex
		}
		out.Query = append(out.Query, route.QueryMatch{Name: string(q.Name), Type: typ, Value: q.Value})
	}
	if m.Method != nil {
		out.Method = string(*m.Method)
	}
	return out, nil
}

// httpRuleAction converts what a rule does (filters, backends, timeouts,
// retry); ok is false when the rule must be dropped.
func (b *builder) httpRuleAction(ns, name, field string, rule *gatewayv1.HTTPRouteRule) (route.HTTPRoute, bool) {
	r := route.HTTPRoute{Source: route.SourceHTTPRoute, Retry: route.DefaultRetry()}
	for fi, f := range rule.Filters {
		ff := fmt.Sprintf("%s.filters[%d]", field, fi)
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			r.RequestHeaders = headerFilter(f.RequestHeaderModifier)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			r.ResponseHeaders = headerFilter(f.ResponseHeaderModifier)
		case gatewayv1.HTTPRouteFilterRequestRedirect:
			rd := f.RequestRedirect
			if rd == nil {
				continue
			}
			out := &route.Redirect{Path: pathModifier(rd.Path)}
			if rd.Scheme != nil {
				out.Scheme = *rd.Scheme
			}
			if rd.Hostname != nil {
				out.Hostname = string(*rd.Hostname)
			}
			if rd.Port != nil {
				out.Port = uint16(*rd.Port)
			}
			if rd.StatusCode != nil {
				out.StatusCode = *rd.StatusCode
			}
			r.Redirect = out
		case gatewayv1.HTTPRouteFilterURLRewrite:
			rw := f.URLRewrite
			if rw == nil {
				continue
			}
			out := &route.Rewrite{Path: pathModifier(rw.Path)}
			if rw.Hostname != nil {
				out.Hostname = string(*rw.Hostname)
			}
			r.Rewrite = out
		default:
			b.warn(kindHTTPRoute, ns, name, ff, "", "Unsupported",
				"filter %s is not implemented by the reference waypoint; ignored", f.Type)
		}
	}
	var weights uint64
	for bi, ref := range rule.BackendRefs {
		bf := fmt.Sprintf("%s.backendRefs[%d]", field, bi)
		weight := uint32(1)
		if ref.Weight != nil {
			weight = uint32(max(*ref.Weight, 0))
		}
		weights += uint64(weight)
		r.Backends = append(r.Backends, b.backendRef(kindHTTPRoute, ns, name, bf, ref.BackendObjectReference, weight))
		if len(ref.Filters) > 0 {
			b.warn(kindHTTPRoute, ns, name, bf+".filters", "", "Unsupported",
				"per-backend filters are not implemented by the reference waypoint; ignored")
		}
	}
	if weights == 0 && r.Redirect == nil {
		r.Backends = nil // Gateway API: no positive weight → 500 (route answers 500 with no backends)
	}
	if rule.Retry != nil {
		// istio conversion.go: retry on connection errors plus the codes,
		// attempts default 2.
		rt := &route.Retry{Attempts: 2, On: []route.RetryOn{route.RetryConnectFailure, route.RetryRefusedStream,
			route.RetryUnavailable, route.RetryCancelled}}
		if rule.Retry.Attempts != nil {
			rt.Attempts = *rule.Retry.Attempts
		}
		for _, c := range rule.Retry.Codes {
			rt.Codes = append(rt.Codes, int(c))
		}
		if len(rt.Codes) > 0 {
			rt.On = append(rt.On, route.RetryRetriableStatusCodes)
		}
		if rule.Retry.Backoff != nil {
			d, _ := time.ParseDuration(string(*rule.Retry.Backoff))
			rt.Backoff = route.Duration(d)
		}
		r.Retry = rt
		if rt.Attempts == 0 {
			r.Retry = nil
		}
	}
	if t := rule.Timeouts; t != nil {
		if t.Request != nil {
			d, _ := time.ParseDuration(string(*t.Request))
			r.Timeout = route.Duration(d)
		}
		if t.BackendRequest != nil {
			d, _ := time.ParseDuration(string(*t.BackendRequest))
			if r.Retry != nil && rule.Retry != nil {
				r.Retry.PerTryTimeout = route.Duration(d)
			} else if d != 0 {
				r.Timeout = route.Duration(d) // istio: without a retry stanza it becomes the route timeout
			}
		}
	}
	return r, true
}

func headerFilter(f *gatewayv1.HTTPHeaderFilter) *route.HeaderModifier {
	if f == nil {
		return nil
	}
	m := &route.HeaderModifier{Remove: append([]string(nil), f.Remove...)}
	for _, h := range f.Set {
		m.Set = append(m.Set, route.Header{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range f.Add {
		m.Add = append(m.Add, route.Header{Name: string(h.Name), Value: h.Value})
	}
	return m
}

func pathModifier(p *gatewayv1.HTTPPathModifier) *route.PathModifier {
	if p == nil {
		return nil
	}
	switch p.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath != nil {
			return &route.PathModifier{Type: route.ReplaceFullPath, Value: *p.ReplaceFullPath}
		}
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch != nil {
			return &route.PathModifier{Type: route.ReplacePrefixMatch, Value: *p.ReplacePrefixMatch}
		}
	}
	return nil
}

// backendRef resolves a Service backendRef; an unresolved one is kept with
// no address (its share of traffic gets 500) and a ResolvedRefs warning.
func (b *builder) backendRef(kind, ns, name, field string, ref gatewayv1.BackendObjectReference, weight uint32) route.Backend {
	key := ServiceKey{ns, string(ref.Name)}
	if ref.Namespace != nil {
		key.Namespace = string(*ref.Namespace)
	}
	unresolved := route.Backend{Service: key.String(), Weight: weight}
	group, bkind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		bkind = string(*ref.Kind)
	}
	if bkind != "Service" || (group != "" && group != "core") {
		b.warn(kind, ns, name, field, condResolvedRefs, reasonInvalidKind, "backendRef kind %s/%s is not supported; only Services", group, bkind)
		return unresolved
	}
	if key.Namespace != ns && !b.referenceGranted(kind, ns, key) {
		b.warn(kind, ns, name, field, condResolvedRefs, reasonNotAllowed,
			"backendRef to Service %s in another namespace needs a ReferenceGrant there", key)
		return unresolved
	}
	if ref.Port == nil {
		b.warn(kind, ns, name, field, condResolvedRefs, reasonUnsupported, "backendRef to Service %s needs a port", key)
		return unresolved
	}
	be, err := b.backend(key, uint16(*ref.Port), weight)
	if err != nil {
		b.warn(kind, ns, name, field, condResolvedRefs, reasonNotFound, "%v", err)
		be.Address = unresolved.Address
	}
	return be
}

// referenceGranted: a ReferenceGrant in the target namespace lets kind
// objects from fromNS refer to the Service.
func (b *builder) referenceGranted(kind, fromNS string, to ServiceKey) bool {
	for _, o := range b.set.Objects {
		var spec *gatewayv1.ReferenceGrantSpec
		switch g := o.Obj.(type) {
		case *gatewayv1.ReferenceGrant:
			spec = &g.Spec
		case *gatewayv1beta1.ReferenceGrant:
			spec = &g.Spec
		default:
			continue
		}
		if o.Namespace != to.Namespace {
			continue
		}
		fromOK := false
		for _, f := range spec.From {
			fromOK = fromOK || (string(f.Group) == gatewayv1.GroupName && string(f.Kind) == kind && string(f.Namespace) == fromNS)
		}
		for _, t := range spec.To {
			if fromOK && (t.Group == "" || t.Group == "core") && t.Kind == "Service" && (t.Name == nil || string(*t.Name) == to.Name) {
				return true
			}
		}
	}
	return false
}
