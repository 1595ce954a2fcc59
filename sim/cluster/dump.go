package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ambientlab/ambientlab/sim/kubeproxy"
)

// adminGet fetches path from a mesh pod's localhost-only admin port by
// dialling inside the pod's network namespace (the admin API is unreachable
// from other pods, as upstream's is).
func adminGet(ctx context.Context, pr *podRuntime, path string) ([]byte, error) {
	ns := pr.netns.NS()
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return ns.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", portAdmin))
		},
	}}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://ztunnel"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// ConfigDumps returns each ztunnel's /config_dump by pod key ("istio-system/ztunnel-node-0"),
// for state dumps after a failure. A ztunnel that does not answer is
// reported in the error and left out.
func (c *Cluster) ConfigDumps(ctx context.Context) (map[string][]byte, error) {
	c.mu.Lock()
	var zts []*podRuntime
	for _, pr := range c.pods {
		if meshComponent(pr.pod) == componentZtunnel {
			zts = append(zts, pr)
		}
	}
	c.mu.Unlock()
	out := map[string][]byte{}
	var errs []error
	for _, pr := range zts {
		b, err := adminGet(ctx, pr, "/config_dump")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pr.pod.Key(), err))
			continue
		}
		out[pr.pod.Key()] = b
	}
	return out, errors.Join(errs...)
}

// ServiceRules renders the kube-proxy nftables rules every node programs
// (they are the same on every node), for state dumps.
func (c *Cluster) ServiceRules() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return kubeproxy.Render(c.model.Services)
}
