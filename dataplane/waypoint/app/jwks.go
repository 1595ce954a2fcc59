package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// jwksFetcher fetches jwksUri key sets: mesh destinations over the
// waypoint's HBONE transport, anything else with the plain fetcher (see the
// package documentation for why).
type jwksFetcher struct {
	workloads func() *workloadapi.Snapshot
	mesh      http.RoundTripper // transport.Upstream: URL.Host = VIP:port or pod IP:port
	plain     jwtauthn.Fetcher
	timeout   time.Duration
	domain    string // cluster DNS domain for short Service names
}

func (f *jwksFetcher) FetchJWKS(ctx context.Context, uri string) ([]byte, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if u.Scheme == "http" {
		if dst, ok := meshDestination(f.workloads(), u, f.domain); ok {
			return f.fetchMesh(ctx, u, dst)
		}
	}
	return f.plain.FetchJWKS(ctx, uri)
}

// meshDestination finds the mesh address of an http URL's host: a Service
// VIP or a mesh pod IP literally, or a Service name as cluster DNS would
// resolve it (name.ns, name.ns.svc, FQDN; a bare name has no namespace
// context in the waypoint and is not resolved).
func meshDestination(st *workloadapi.Snapshot, u *url.URL, domain string) (netip.AddrPort, bool) {
	if st == nil {
		return netip.AddrPort{}, false
	}
	port := uint16(80)
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return netip.AddrPort{}, false
		}
		port = uint16(n)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if _, ok := st.ServiceByVIP(ip); ok {
			return netip.AddrPortFrom(ip, port), true
		}
		if w, ok := st.WorkloadByIP(ip); ok && w.Protocol == workloadapi.TunnelHBONE {
			return netip.AddrPortFrom(ip, port), true
		}
		return netip.AddrPort{}, false
	}
	var candidates []string
	switch strings.Count(host, ".") {
	case 1: // name.ns
		candidates = append(candidates, host+".svc."+domain)
	case 2: // name.ns.svc
		if strings.HasSuffix(host, ".svc") {
			candidates = append(candidates, host+"."+domain)
		}
	}
	candidates = append(candidates, host)
	for _, h := range candidates {
		if svc, ok := st.ServiceByHostname(h); ok && len(svc.VIPs) > 0 {
			return netip.AddrPortFrom(svc.VIPs[0], port), true
		}
	}
	return netip.AddrPort{}, false
}

func (f *jwksFetcher) fetchMesh(ctx context.Context, u *url.URL, dst netip.AddrPort) ([]byte, error) {
	if !jwtauthn.AllowedJWKSAddress(dst.Addr()) {
		return nil, fmt.Errorf("%w: %s", jwtauthn.ErrForbiddenAddress, dst.Addr())
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Host = u.Host
	req.URL.Host = dst.String()
	resp, err := f.mesh.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %s via the mesh (%s): %w", u, dst, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, errors.New("jwks: redirects refused")
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("jwks: %s: status %d", u, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, jwtauthn.MaxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > jwtauthn.MaxJWKSBytes {
		return nil, fmt.Errorf("jwks: body exceeds %d bytes", jwtauthn.MaxJWKSBytes)
	}
	return data, nil
}
