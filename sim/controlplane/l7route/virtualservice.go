package l7route

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

const kindVirtualService = "VirtualService"

// vsServices returns the Services a VirtualService's hosts name. Short
// names are expanded in the VirtualService's namespace, as istiod does;
// "*"-prefixed hosts match by suffix. Only Services in the
// VirtualService's namespace are taken (getVirtualServiceForWaypoint).
func (b *builder) vsServices(ns string, spec *networking.VirtualService) []ServiceKey {
	var out []ServiceKey
	for _, s := range b.cluster.Services {
		if s.Namespace != ns {
			continue
		}
		fqdn := s.Hostname(b.cluster.ClusterDomain)
		for _, h := range spec.GetHosts() {
			if hostMatches(b.expandHost(h, ns), fqdn) {
				out = append(out, ServiceKey{s.Namespace, s.Name})
				break
			}
		}
	}
	return out
}

// expandHost turns "reviews" into reviews.<ns>.svc.<domain> and
// "reviews.other" into reviews.other.svc.<domain>.
func (b *builder) expandHost(h, ns string) string {
	switch strings.Count(h, ".") {
	case 0:
		if h == "*" {
			return h
		}
		return h + "." + ns + ".svc." + b.cluster.ClusterDomain
	case 1:
		return h + ".svc." + b.cluster.ClusterDomain
	}
	return h
}

func hostMatches(pattern, fqdn string) bool {
	if pattern == "*" {
		return true
	}
	if strings.HasPrefix(pattern, "*.") {
		return strings.HasSuffix(fqdn, pattern[1:])
	}
	return strings.EqualFold(pattern, fqdn)
}

func (b *builder) virtualService(order int, ns, name string, spec *networking.VirtualService) {
	if gws := spec.GetGateways(); len(gws) > 0 && !containsString(gws, "mesh") {
		return // bound to ingress Gateways only
	}
	svcs := b.vsServices(ns, spec)
	if len(svcs) == 0 {
		return
	}
	if len(spec.GetTcp()) > 0 || len(spec.GetTls()) > 0 {
		b.warn(kindVirtualService, ns, name, "spec.tcp", "", "Unsupported", "tcp and tls routes of VirtualServices are not implemented by the reference waypoint; use a TCPRoute")
	}
	var rs []route.HTTPRoute
http:
	for hi, h := range spec.GetHttp() {
		field := fmt.Sprintf("spec.http[%d]", hi)
		base := b.vsAction(ns, name, field, h)
		if len(h.GetMatch()) == 0 {
			base.Name = fmt.Sprintf("%s/%s/%d/-", ns, name, hi)
			rs = append(rs, base)
			break // a catch-all: later routes can never match (istiod stops too)
		}
		for mi, m := range h.GetMatch() {
			mf := fmt.Sprintf("%s.match[%d]", field, mi)
			if len(m.GetSourceLabels()) > 0 {
				b.warn(kindVirtualService, ns, name, mf+".sourceLabels", "", "Unsupported",
					"sourceLabels matches are dropped at waypoints (istio#51565)")
				continue
			}
			r := base
			r.Name = fmt.Sprintf("%s/%s/%d/%d", ns, name, hi, mi)
			if m.GetName() != "" {
				r.Name = fmt.Sprintf("%s/%s/%s/%d", ns, name, m.GetName(), mi)
			}
			match, port, err := convertVSMatch(m)
			if err != nil {
				b.warn(kindVirtualService, ns, name, mf, "", reasonUnsupported, "%v; match dropped", err)
				continue
			}
			r.Match, r.Port = match, port
			rs = append(rs, r)
			if isCatchAll(&r) {
				break http
			}
		}
	}
	for _, svc := range svcs {
		b.blocks[svc] = append(b.blocks[svc], block{order: order, source: route.SourceVirtualService,
			owner: ns + "/" + name, http: append([]route.HTTPRoute(nil), rs...)})
	}
}

func isCatchAll(r *route.HTTPRoute) bool {
	m := &r.Match
	if len(m.Headers) > 0 || len(m.Query) > 0 || m.Method != "" || r.Port != 0 {
		return false
	}
	return m.Path == nil || (m.Path.Type == route.PathStringPrefix && m.Path.Value == "/") ||
		(m.Path.Type == route.PathRegex && m.Path.Value == ".*")
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func convertVSMatch(m *networking.HTTPMatchRequest) (route.Match, uint16, error) {
	var out route.Match
	if m.GetIgnoreUriCase() {
		return out, 0, fmt.Errorf("ignoreUriCase is not implemented")
	}
	if m.GetScheme() != nil || m.GetAuthority() != nil || m.GetSourceNamespace() != "" || len(m.GetGateways()) > 0 {
		return out, 0, fmt.Errorf("scheme, authority, sourceNamespace and gateways matches are not implemented")
	}
	if u := m.GetUri(); u != nil {
		switch {
		case u.GetExact() != "":
			out.Path = &route.PathMatch{Type: route.PathExact, Value: u.GetExact()}
		case u.GetPrefix() != "":
			out.Path = &route.PathMatch{Type: route.PathStringPrefix, Value: u.GetPrefix()}
		case u.GetRegex() != "":
			out.Path = &route.PathMatch{Type: route.PathRegex, Value: u.GetRegex()}
		}
	}
	if meth := m.GetMethod(); meth != nil {
		if meth.GetExact() == "" {
			return out, 0, fmt.Errorf("method: only exact matches are implemented")
		}
		out.Method = meth.GetExact()
	}
	for _, hm := range []struct {
		m      map[string]*networking.StringMatch
		invert bool
	}{{m.GetHeaders(), false}, {m.GetWithoutHeaders(), true}} {
		for _, name := range sortedKeys(hm.m) {
			typ, val, err := stringMatch(hm.m[name])
			if err != nil {
				return out, 0, fmt.Errorf("header %s: %w", name, err)
			}
			out.Headers = append(out.Headers, route.HeaderMatch{Name: strings.ToLower(name), Type: typ, Value: val, Invert: hm.invert})
		}
	}
	for _, name := range sortedKeys(m.GetQueryParams()) {
		typ, val, err := stringMatch(m.GetQueryParams()[name])
		if err != nil {
			return out, 0, fmt.Errorf("queryParams %s: %w", name, err)
		}
		out.Query = append(out.Query, route.QueryMatch{Name: name, Type: typ, Value: val})
	}
	return out, uint16(m.GetPort()), nil
}

func stringMatch(s *networking.StringMatch) (route.StringMatchType, string, error) {
	switch s.GetMatchType().(type) {
	case *networking.StringMatch_Exact:
		return route.StringExact, s.GetExact(), nil
	case *networking.StringMatch_Prefix:
		return route.StringPrefix, s.GetPrefix(), nil
	case *networking.StringMatch_Regex:
		return route.StringRegex, s.GetRegex(), nil
	}
	// An empty StringMatch means "present with any value" in Istio.
	return route.StringRegex, ".*", nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// vsAction converts an http route's destinations, rewrite, redirect,
// headers, timeout, retries and fault.
func (b *builder) vsAction(ns, name, field string, h *networking.HTTPRoute) route.HTTPRoute {
	r := route.HTTPRoute{Source: route.SourceVirtualService, Retry: route.DefaultRetry()}
	warn := func(f, format string, args ...any) {
		b.warn(kindVirtualService, ns, name, field+"."+f, "", "Unsupported", format, args...)
	}
	dests := h.GetRoute()
	for di, d := range dests {
		key := ServiceKey{ns, d.GetDestination().GetHost()}
		host := b.expandHost(d.GetDestination().GetHost(), ns)
		if parts := strings.Split(host, "."); len(parts) >= 3 && parts[2] == "svc" {
			key = ServiceKey{parts[1], parts[0]}
		}
		weight := uint32(max(d.GetWeight(), 0))
		if len(dests) == 1 && weight == 0 {
			weight = 100 // a single destination takes all traffic
		}
		port := uint16(d.GetDestination().GetPort().GetNumber())
		if svc, ok := b.services[key]; ok && port == 0 && len(svc.Ports) == 1 {
			port = svc.Ports[0].Port // istiod: a one-port Service's port
		}
		be, err := b.backend(key, port, weight)
		if err != nil {
			b.warn(kindVirtualService, ns, name, fmt.Sprintf("%s.route[%d].destination", field, di), condResolvedRefs, reasonNotFound, "%v", err)
			be.Address = route.Backend{}.Address
		}
		if d.GetDestination().GetSubset() != "" {
			warn(fmt.Sprintf("route[%d].destination.subset", di), "subsets (DestinationRule) are not implemented; the whole Service is used")
		}
		r.Backends = append(r.Backends, be)
	}
	if rw := h.GetRewrite(); rw != nil {
		r.Rewrite = &route.Rewrite{Hostname: rw.GetAuthority()}
		if rw.GetUri() != "" {
			r.Rewrite.Path = &route.PathModifier{Type: route.ReplacePrefixMatch, Value: rw.GetUri()}
		}
		if rw.GetUriRegexRewrite() != nil {
			warn("rewrite.uriRegexRewrite", "uriRegexRewrite is not implemented; ignored")
		}
	}
	if rd := h.GetRedirect(); rd != nil {
		out := &route.Redirect{Scheme: rd.GetScheme(), Hostname: rd.GetAuthority(), Port: uint16(rd.GetPort()),
			StatusCode: int(rd.GetRedirectCode())}
		if out.StatusCode == 0 {
			out.StatusCode = 301 // istiod: VirtualService redirects default to 301
		}
		if rd.GetUri() != "" {
			out.Path = &route.PathModifier{Type: route.ReplaceFullPath, Value: rd.GetUri()}
		}
		r.Redirect = out
	}
	if hs := h.GetHeaders(); hs != nil {
		r.RequestHeaders = headerOps(hs.GetRequest())
		r.ResponseHeaders = headerOps(hs.GetResponse())
	}
	if t := h.GetTimeout(); t != nil {
		r.Timeout = route.Duration(t.AsDuration())
	}
	if rt := h.GetRetries(); rt != nil {
		r.Retry = b.vsRetry(rt, warn)
	}
	if f := h.GetFault(); f != nil {
		r.Fault = vsFault(f, warn)
	}
	if h.GetDirectResponse() != nil || h.GetMirror() != nil || len(h.GetMirrors()) > 0 || h.GetCorsPolicy() != nil {
		warn("", "directResponse, mirror and corsPolicy are not implemented by the reference waypoint; ignored")
	}
	return r
}

func headerOps(op *networking.Headers_HeaderOperations) *route.HeaderModifier {
	if op == nil {
		return nil
	}
	m := &route.HeaderModifier{Remove: op.GetRemove()}
	for _, k := range sortedKeys(op.GetSet()) {
		m.Set = append(m.Set, route.Header{Name: k, Value: op.GetSet()[k]})
	}
	for _, k := range sortedKeys(op.GetAdd()) {
		m.Add = append(m.Add, route.Header{Name: k, Value: op.GetAdd()[k]})
	}
	return m
}

// vsRetry mirrors istio retry.go ConvertPolicy: attempts ≤ 0 disables;
// retryOn replaces the default conditions, integers in it are status codes
// (adding retriable-status-codes).
func (b *builder) vsRetry(in *networking.HTTPRetry, warn func(string, string, ...any)) *route.Retry {
	if in.GetAttempts() <= 0 {
		return nil
	}
	out := route.DefaultRetry()
	out.Attempts = int(in.GetAttempts())
	if in.GetRetryOn() != "" {
		out.On = nil
		for part := range strings.SplitSeq(in.GetRetryOn(), ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if code, err := strconv.Atoi(part); err == nil {
				out.Codes = append(out.Codes, code)
				continue
			}
			if !containsOn(route.RetryConditions, route.RetryOn(part)) {
				warn("retries.retryOn", "retry condition %q is not implemented; ignored", part)
				continue
			}
			out.On = append(out.On, route.RetryOn(part))
		}
		if len(out.Codes) > 0 && !containsOn(out.On, route.RetryRetriableStatusCodes) {
			out.On = append(out.On, route.RetryRetriableStatusCodes)
		}
	}
	if t := in.GetPerTryTimeout(); t != nil {
		out.PerTryTimeout = route.Duration(t.AsDuration())
	}
	if bo := in.GetBackoff(); bo != nil {
		out.Backoff = route.Duration(bo.AsDuration())
	}
	return out
}

func containsOn(xs []route.RetryOn, x route.RetryOn) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// vsFault mirrors istio route.go TranslateFault: percentage when set, else
// the deprecated integer percent (0 when neither is set: Istio then writes
// a 0% FractionalPercent, so nothing is injected).
func vsFault(f *networking.HTTPFaultInjection, warn func(string, string, ...any)) *route.Fault {
	out := &route.Fault{}
	if d := f.GetDelay(); d != nil {
		pct := float64(d.GetPercent()) //nolint:staticcheck // deprecated field still honoured by istiod
		if d.GetPercentage() != nil {
			pct = d.GetPercentage().GetValue()
		}
		if d.GetFixedDelay() != nil {
			out.Delay = &route.FaultDelay{Fixed: route.Duration(d.GetFixedDelay().AsDuration()), Percent: pct}
		} else {
			warn("fault.delay", "only fixedDelay is implemented (istiod drops exponentialDelay too)")
		}
	}
	if a := f.GetAbort(); a != nil {
		ab := &route.FaultAbort{Percent: a.GetPercentage().GetValue()}
		switch {
		case a.GetHttpStatus() != 0:
			ab.HTTPStatus = int(a.GetHttpStatus())
		case a.GetGrpcStatus() != "":
			ab.GRPCStatus = a.GetGrpcStatus()
		default:
			warn("fault.abort", "only httpStatus and grpcStatus aborts are implemented")
			ab = nil
		}
		out.Abort = ab
	}
	if out.Delay == nil && out.Abort == nil {
		return nil
	}
	return out
}
