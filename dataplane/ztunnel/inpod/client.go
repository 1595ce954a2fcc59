package inpod

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"istio.io/istio/pkg/zdsapi"

	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
)

// Client is ztunnel's end of ZDS. Run connects to the node agent, keeps
// reconnecting with backoff, and turns the agent's requests into pods served
// by the PodHandler. Pods survive a reconnect: the agent replays its state
// and SnapshotSent drops whatever it no longer names (ztunnel
// statemanager.rs reconcile).
type Client struct {
	cfg   Config
	log   *slog.Logger
	ready chan struct{}

	// readyOnce closes ready at the first SnapshotSent.
	readyOnce sync.Once

	// mu guards pods. Only Run's goroutine writes; Pods reads.
	mu   sync.Mutex
	pods map[string]*pod
}

// pod is one served pod.
type pod struct {
	info    WorkloadInfo
	netns   *podNetns
	sockets *PodSockets
}

// PodStatus describes a served pod.
type PodStatus struct {
	WorkloadInfo
	NetnsInode uint64
}

// NewClient validates cfg and returns an idle Client.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "inpod"),
		ready: make(chan struct{}),
		pods:  map[string]*pod{},
	}, nil
}

// Ready is closed once the first full snapshot has been applied: from then
// on every pod the agent knew about has its listeners (ztunnel becomes ready
// only after the snapshot, ztunnel-cni-lifecycle.md).
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Pods returns the served pods, sorted by uid.
func (c *Client) Pods() []PodStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PodStatus, 0, len(c.pods))
	for _, p := range c.pods {
		out = append(out, PodStatus{WorkloadInfo: p.info, NetnsInode: p.netns.inode})
	}
	slices.SortFunc(out, func(a, b PodStatus) int { return strings.Compare(a.UID, b.UID) })
	return out
}

// Run serves ZDS until ctx ends, then removes every pod (closing its
// listeners, as a terminating ztunnel does so its successor's reuseport
// listeners take over) and returns.
func (c *Client) Run(ctx context.Context) {
	defer c.removeAll()
	var delay time.Duration
	for {
		err := c.serveOnce(ctx, func() { delay = 0 })
		if ctx.Err() != nil {
			return
		}
		delay = c.cfg.Backoff.Next(delay)
		c.log.Warn("ZDS connection ended; reconnecting", "error", err, "backoff", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session is the per-connection state: the uids added or kept since the
// connection began, which SnapshotSent reconciles against.
type session struct {
	seen map[string]bool
}

// serveOnce runs one connection: hello, then request → ack until the
// connection fails. connected is called once the dial succeeded.
func (c *Client) serveOnce(ctx context.Context, connected func()) error {
	conn, err := zds.Dial(ctx, c.cfg.SocketPath)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A blocked receive ends when ctx does.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	connected()
	if err := conn.SendHello(); err != nil {
		return err
	}
	s := &session{seen: map[string]bool{}}
	for {
		req, netns, err := conn.RecvRequest()
		if zds.IsProtocolError(err) {
			// The agent sent something malformed; the stream is still in
			// step (one packet per message), so NACK it and carry on.
			c.log.Error("malformed ZDS request", "error", err)
			if err := conn.SendAck(err.Error()); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		ackErr := c.handle(ctx, s, req, netns)
		text := ""
		if ackErr != nil {
			text = ackErr.Error()
			c.log.Error("NACK", "kind", zds.KindOf(req), "uid", zds.UID(req), "error", ackErr)
		}
		if err := conn.SendAck(text); err != nil {
			return err
		}
	}
}

// handle applies one request; its error becomes the NACK text.
func (c *Client) handle(ctx context.Context, s *session, req *zdsapi.WorkloadRequest, netns *os.File) error {
	uid := zds.UID(req)
	switch zds.KindOf(req) {
	case zds.KindAdd:
		a := req.GetAdd()
		info := WorkloadInfo{
			UID:            uid,
			Name:           a.GetWorkloadInfo().GetName(),
			Namespace:      a.GetWorkloadInfo().GetNamespace(),
			ServiceAccount: a.GetWorkloadInfo().GetServiceAccount(),
		}
		if err := c.addPod(ctx, info, netns); err != nil {
			return err
		}
		s.seen[uid] = true
	case zds.KindKeep:
		// The agent lost this pod's netns (its own restart) but the pod
		// lives: keep serving it if we do.
		if !c.has(uid) {
			c.log.Warn("keep for a pod not served", "uid", uid)
		}
		s.seen[uid] = true
	case zds.KindDel:
		c.removePod(uid)
		delete(s.seen, uid)
	case zds.KindSnapshotSent:
		c.reconcile(s.seen)
		c.readyOnce.Do(func() { close(c.ready) })
	default:
		return fmt.Errorf("inpod: unhandled request %v", req)
	}
	return nil
}

// addPod serves a pod. A replayed add for the same uid and namespace keeps
// the running pod; the same uid with a new namespace (sandbox recreated)
// replaces it.
func (c *Client) addPod(ctx context.Context, info WorkloadInfo, netns *os.File) error {
	pn, err := openPodNetns(netns)
	if err != nil {
		return err
	}
	log := c.log.With("uid", info.UID, "pod", info.Namespace+"/"+info.Name, "netns", pn.inode)
	c.mu.Lock()
	old := c.pods[info.UID]
	c.mu.Unlock()
	if old != nil {
		if old.netns.inode == pn.inode {
			pn.close()
			log.Debug("pod already served")
			return nil
		}
		log.Info("pod namespace changed; replacing", "old_netns", old.netns.inode)
		c.removePod(info.UID)
	}
	socks, err := openPodSockets(ctx, pn, &c.cfg, log)
	if err != nil {
		pn.close()
		return err
	}
	if err := c.cfg.Handler.AddPod(ctx, info, socks); err != nil {
		closeListeners(socks)
		pn.close()
		return fmt.Errorf("inpod: proxy refused pod %s: %w", info.UID, err)
	}
	c.mu.Lock()
	c.pods[info.UID] = &pod{info: info, netns: pn, sockets: socks}
	c.mu.Unlock()
	log.Info("pod added")
	return nil
}

func (c *Client) has(uid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pods[uid] != nil
}

// removePod tears a pod down at once: listeners, then the handler (whose
// accept loops have ended), then the namespace fd. Unknown uids are fine:
// the agent sends deletes to every connected ztunnel.
func (c *Client) removePod(uid string) {
	c.mu.Lock()
	p := c.pods[uid]
	delete(c.pods, uid)
	c.mu.Unlock()
	if p == nil {
		return
	}
	closeListeners(p.sockets)
	c.cfg.Handler.RemovePod(uid)
	p.netns.close()
	c.log.Info("pod removed", "uid", uid)
}

// reconcile drops every pod the snapshot did not name.
func (c *Client) reconcile(seen map[string]bool) {
	var stale []string
	c.mu.Lock()
	for uid := range c.pods {
		if !seen[uid] {
			stale = append(stale, uid)
		}
	}
	c.mu.Unlock()
	slices.Sort(stale)
	for _, uid := range stale {
		c.log.Info("pod not in snapshot", "uid", uid)
		c.removePod(uid)
	}
}

func (c *Client) removeAll() { c.reconcile(nil) }
