package jwtauthn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress: the jwksUri resolved to an address a key server can
// never legitimately have (ISTIO-SECURITY-2026-003, SSRF via jwksUri, B9).
var ErrForbiddenAddress = errors.New("jwks: forbidden destination address")

// NewHTTPFetcher returns a Fetcher over plain net/http with a bounded dial,
// response size and total time, that refuses loopback, link-local (cloud
// metadata at 169.254.169.254), unspecified and multicast destinations. The
// check runs on the dialled address, after DNS, so a name cannot smuggle one.
func NewHTTPFetcher(timeout time.Duration) Fetcher {
	d := &net.Dialer{Timeout: timeout, Control: refuseInternal}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:            d.DialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("jwks: redirects refused") },
	}
	return FetcherFunc(func(ctx context.Context, uri string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
		if err != nil {
			return nil, err
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return nil, fmt.Errorf("jwks: scheme %q", req.URL.Scheme)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("jwks: status %d", resp.StatusCode)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
		if err != nil {
			return nil, err
		}
		if len(data) > MaxJWKSBytes {
			return nil, fmt.Errorf("jwks: body exceeds %d bytes", MaxJWKSBytes)
		}
		return data, nil
	})
}

func refuseInternal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if a := ap.Addr().Unmap(); !AllowedJWKSAddress(a) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, a)
	}
	return nil
}

// AllowedJWKSAddress is the SSRF policy: simulator workloads (private and
// benchmark ranges) are fine; loopback, link-local, unspecified and multicast
// are not.
func AllowedJWKSAddress(a netip.Addr) bool {
	return a.IsValid() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsUnspecified() && !a.IsMulticast() && !a.IsInterfaceLocalMulticast()
}
