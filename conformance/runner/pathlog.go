package runner

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/sim/cluster"
)

// The path a probe took and the identity the server side saw are read from
// the ztunnels' access logs (pods istio-system/ztunnel-<node>, whose stdout
// is their access log). One connection leaves two "connection complete"
// lines: the source node's ztunnel logs it outbound with src.addr = the
// probe's own socket address (unique per attempt), and the destination
// node's ztunnel logs it inbound with src.identity = the peer identity it
// proved over mTLS. The inbound line's src.addr carries the HBONE
// connection's port, not the probe's, so it is matched by source IP, the
// destination the outbound line names, and time.

const (
	meshNamespace = "istio-system"
	ztunnelApp    = "ztunnel"
	// logWait bounds how long to wait for the lines: ztunnel writes them
	// when the connection ends, which may trail the client's return.
	logWait = 3 * time.Second
	// logTail bounds how much of each log is read per attempt.
	logTail = 4000
	// clockSlack widens the attempt's time window: log times have
	// microsecond resolution and are taken in another process.
	clockSlack = 50 * time.Millisecond
)

// proxyHop names a proxy as the path expectation does: "ztunnel:node-0".
func proxyHop(kind, name string) string { return kind + ":" + name }

// ztunnelPods maps each node to its ztunnel pod (ns/name), from the model.
func ztunnelPods(c *cluster.Cluster) map[string]string {
	out := map[string]string{}
	for _, p := range c.Model().Pods {
		if p.Namespace == meshNamespace && p.Labels["app"] == ztunnelApp {
			out[p.Node] = p.Key()
		}
	}
	return out
}

// pathObservation is what the access logs say about one probe connection.
type pathObservation struct {
	outbound, inbound         *AccessLogEntry
	outboundNode, inboundNode string
}

// path is the ztunnels that handled the connection, source side first, a
// ztunnel that did both (same node) named once.
func (o pathObservation) path() []string {
	var hops []string
	for _, n := range []string{o.outboundNode, o.inboundNode} {
		if h := proxyHop("ztunnel", n); n != "" && (len(hops) == 0 || hops[len(hops)-1] != h) {
			hops = append(hops, h)
		}
	}
	return hops
}

func (o pathObservation) lines() []string {
	var out []string
	for _, e := range []*AccessLogEntry{o.outbound, o.inbound} {
		if e != nil {
			out = append(out, e.Raw)
		}
	}
	return out
}

func (o pathObservation) complete() bool { return o.outbound != nil && o.inbound != nil }

// observePath reads the ztunnels' logs until both lines of the probe's
// connection (local is the probe's socket address) are there, or logWait.
func (e *env) observePath(ctx context.Context, local netip.AddrPort, start, end time.Time) (pathObservation, error) {
	pods := ztunnelPods(e.c)
	if len(pods) == 0 {
		return pathObservation{}, fmt.Errorf("no ztunnel pods in %s to read access logs from", meshNamespace)
	}
	deadline := time.Now().Add(logWait)
	for {
		logs := map[string][]AccessLogEntry{}
		for node, pod := range pods {
			var buf bytes.Buffer
			if err := e.c.Logs(ctx, pod, "", false, logTail, &buf); err != nil {
				return pathObservation{}, fmt.Errorf("access log of %s: %w", pod, err)
			}
			logs[node] = ParseAccessLog(buf.String())
		}
		o := matchConnection(logs, local, start.Add(-clockSlack), end.Add(logWait))
		if o.complete() || time.Now().After(deadline) || !sleepCtx(ctx, pollInterval) {
			return o, nil
		}
	}
}

// matchConnection finds the two lines of the connection from local within
// [from, to] in the logs (by node).
func matchConnection(logs map[string][]AccessLogEntry, local netip.AddrPort, from, to time.Time) pathObservation {
	var o pathObservation
	nodes := make([]string, 0, len(logs))
	for n := range logs {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	inWindow := func(en *AccessLogEntry) bool {
		return en.Message == msgConnectionComplete && !en.Time.Before(from) && !en.Time.After(to)
	}
	for _, n := range nodes {
		for i := range logs[n] {
			en := &logs[n][i]
			if inWindow(en) && en.Direction() == DirectionOutbound && en.AddrPort(keySrcAddr) == local {
				o.outbound, o.outboundNode = en, n
			}
		}
	}
	// The destination the source side tunnelled to (or dialled, without HBONE).
	var dst netip.AddrPort
	if o.outbound != nil {
		if dst = o.outbound.AddrPort(keyDstHBONEAddr); !dst.IsValid() {
			dst = o.outbound.AddrPort(keyDstAddr)
		}
	}
	var candidates []struct {
		node string
		en   *AccessLogEntry
	}
	for _, n := range nodes {
		for i := range logs[n] {
			en := &logs[n][i]
			if !inWindow(en) || en.Direction() != DirectionInbound || en.AddrPort(keySrcAddr).Addr() != local.Addr() {
				continue
			}
			if dst.IsValid() && en.AddrPort(keyDstAddr) != dst {
				continue
			}
			candidates = append(candidates, struct {
				node string
				en   *AccessLogEntry
			}{n, en})
		}
	}
	// Several inbound lines fit when the window holds other connections
	// from the same pod; the one closest in time to the outbound line is
	// this connection's. Without an outbound line only a unique fit counts.
	switch {
	case len(candidates) == 1:
		o.inbound, o.inboundNode = candidates[0].en, candidates[0].node
	case len(candidates) > 1 && o.outbound != nil:
		best := candidates[0]
		for _, c := range candidates[1:] {
			if absDur(c.en.Time.Sub(o.outbound.Time)) < absDur(best.en.Time.Sub(o.outbound.Time)) {
				best = c
			}
		}
		o.inbound, o.inboundNode = best.en, best.node
	}
	return o
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// checkPath compares the observed path with the expected one, in order.
func checkPath(want []string, o pathObservation) string {
	got := o.path()
	if slices.Equal(got, want) {
		return ""
	}
	msg := fmt.Sprintf("path: got [%s], want [%s]", strings.Join(got, " → "), strings.Join(want, " → "))
	switch {
	case o.outbound == nil && o.inbound == nil:
		msg += " (no ztunnel logged this connection: the source is not captured, or the logs are not where expected)"
	case o.outbound == nil:
		msg += " (no outbound line from the source node's ztunnel)"
	case o.inbound == nil:
		msg += " (no inbound line from the destination's ztunnel)"
	}
	for _, h := range want {
		if !strings.HasPrefix(h, "ztunnel:") {
			msg += fmt.Sprintf("; %s cannot be observed: only ztunnel access logs are read", h)
		}
	}
	return msg
}

// checkIdentity compares the identity the destination's ztunnel proved
// (src.identity of its inbound line) with the expected principal.
func checkIdentity(want string, o pathObservation) string {
	if o.inbound == nil {
		return fmt.Sprintf("observed identity: no inbound access-log line from the destination's ztunnel for this connection, want %s", want)
	}
	got := o.inbound.Get(keySrcIdentity)
	if got == want {
		return ""
	}
	if got == "" {
		got = "none (no src.identity: the connection was not mTLS)"
	}
	return fmt.Sprintf("observed identity: got %s (src.identity logged by %s), want %s", got, proxyHop("ztunnel", o.inboundNode), want)
}
