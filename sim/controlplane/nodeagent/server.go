package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"istio.io/istio/pkg/zdsapi"

	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
	"github.com/ambientlab/ambientlab/sim/redirect"
)

// Pod is an enrolled pod as ZDS names it.
type Pod struct {
	UID            string
	Name           string
	Namespace      string
	ServiceAccount string
}

// Redirector programs a pod's in-pod capture; sim/redirect by default.
type Redirector interface {
	Apply(nsFd int, opts redirect.Options) error
	Remove(nsFd int) error
}

type netfilterRedirector struct{}

func (netfilterRedirector) Apply(fd int, o redirect.Options) error { return redirect.Apply(fd, o) }
func (netfilterRedirector) Remove(fd int) error                    { return redirect.Remove(fd) }

// RemoveReason says why a pod leaves the mesh.
type RemoveReason uint8

const (
	// PodDeleted: the pod is gone; its rules go with its namespace.
	PodDeleted RemoveReason = iota + 1
	// PodUnenrolled: the pod runs on but left ambient; its rules are removed.
	PodUnenrolled
)

func (r RemoveReason) String() string {
	switch r {
	case PodDeleted:
		return "deleted"
	case PodUnenrolled:
		return "unenrolled"
	}
	return fmt.Sprintf("RemoveReason(%d)", uint8(r))
}

// Config configures a Server.
type Config struct {
	// SocketPath is where the ZDS socket is created (the simulator's
	// private state dir; ztunnel's INPOD_UDS).
	SocketPath string
	Logger     *slog.Logger
	// AckTimeout bounds each request's ack (istio readWriteDeadline, 5 s).
	AckTimeout time.Duration
	// Keepalive is how often an idle connection is probed (istio's
	// keepaliveInterval).
	Keepalive time.Duration
	// Redirect are the in-pod rule options applied to every pod.
	Redirect redirect.Options
	// Redirector; sim/redirect when nil.
	Redirector Redirector
}

// DefaultConfig has upstream's timings.
func DefaultConfig() Config {
	return Config{AckTimeout: 5 * time.Second, Keepalive: 5 * time.Second}
}

// Server is one node's agent. Run serves ztunnel connections; AddPod and
// RemovePod may be called at any time, before or after a ztunnel connects.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  *zds.Listener

	// mu guards the pod cache and the connected sessions (newest last).
	mu       sync.Mutex
	pods     map[string]*cachedPod
	sessions []*session
	closed   bool
}

// cachedPod is an enrolled pod and the agent's own fd on its namespace,
// which keeps it replayable for as long as the pod is enrolled.
type cachedPod struct {
	pod   Pod
	netns *os.File
}

// New validates cfg and listens on cfg.SocketPath.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.SocketPath == "" {
		errs = append(errs, errors.New("SocketPath is empty"))
	}
	if cfg.AckTimeout <= 0 || cfg.Keepalive <= 0 {
		errs = append(errs, fmt.Errorf("AckTimeout %v and Keepalive %v must be positive", cfg.AckTimeout, cfg.Keepalive))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("nodeagent: invalid config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Redirector == nil {
		cfg.Redirector = netfilterRedirector{}
	}
	ln, err := zds.Listen(cfg.SocketPath)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("component", "nodeagent"), ln: ln, pods: map[string]*cachedPod{}}, nil
}

// SocketPath is the ZDS socket ztunnel connects to.
func (s *Server) SocketPath() string { return s.ln.Path() }

// Pods returns the enrolled pods, sorted by uid.
func (s *Server) Pods() []Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Pod, 0, len(s.pods))
	for _, c := range s.pods {
		out = append(out, c.pod)
	}
	slices.SortFunc(out, func(a, b Pod) int { return strings.Compare(a.UID, b.UID) })
	return out
}

// Connected is the number of ztunnel connections.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// AddPod enrolls a pod whose network namespace is nsFd (borrowed; the agent
// keeps a duplicate): the capture rules first, so no traffic escapes, then
// AddWorkload to the newest ztunnel, waiting for its ack (the CNI plugin
// holds the pod until then). An error after the rules is a
// *PartialAddError: the pod stays enrolled and is replayed on the next
// connection.
func (s *Server) AddPod(ctx context.Context, pod Pod, nsFd int) error {
	if pod.UID == "" {
		return errors.New("nodeagent: pod without uid")
	}
	if err := s.cfg.Redirector.Apply(nsFd, s.cfg.Redirect); err != nil {
		return fmt.Errorf("nodeagent: in-pod rules for %s: %w", pod.UID, err)
	}
	own, err := dupFile(nsFd)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		own.Close()
		return ErrClosed
	}
	if old := s.pods[pod.UID]; old != nil {
		old.netns.Close()
	}
	s.pods[pod.UID] = &cachedPod{pod: pod, netns: own}
	s.mu.Unlock()

	// A connection that dies under us may have been replaced by one whose
	// replay predates our cache entry: try the newest until it holds.
	var tried *session
	for {
		sess := s.latest()
		if sess == nil || sess == tried {
			if err == nil {
				err = ErrNotConnected
			}
			return &PartialAddError{UID: pod.UID, Err: err}
		}
		fd, derr := dupFile(int(own.Fd()))
		if derr != nil {
			return &PartialAddError{UID: pod.UID, Err: derr}
		}
		err = sess.do(ctx, newRequest(zds.Add(pod.UID, workloadInfo(pod)), fd))
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrDisconnected) {
			return &PartialAddError{UID: pod.UID, Err: err}
		}
		tried = sess
	}
}

// RemovePod takes a pod out of the mesh: for an unenrolled pod its rules
// are removed first (istio RemovePodFromMesh), then DelWorkload goes to
// every connected ztunnel (old ones too, so a restarting ztunnel never
// keeps serving it), and the agent's namespace fd is released.
func (s *Server) RemovePod(ctx context.Context, uid string, reason RemoveReason) error {
	s.mu.Lock()
	c := s.pods[uid]
	delete(s.pods, uid)
	sessions := slices.Clone(s.sessions)
	s.mu.Unlock()
	var errs []error
	if c != nil {
		defer c.netns.Close()
		if reason == PodUnenrolled {
			if err := s.cfg.Redirector.Remove(int(c.netns.Fd())); err != nil {
				errs = append(errs, fmt.Errorf("nodeagent: removing rules of %s: %w", uid, err))
			}
		}
	}
	for _, sess := range sessions {
		if err := sess.do(ctx, newRequest(zds.Del(uid), nil)); err != nil && !errors.Is(err, ErrDisconnected) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) latest() *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) == 0 {
		return nil
	}
	return s.sessions[len(s.sessions)-1]
}

// Close stops listening and releases every cached namespace fd. Call it
// after Run has returned.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for uid, c := range s.pods {
		c.netns.Close()
		delete(s.pods, uid)
	}
	return s.ln.Close()
}

func workloadInfo(p Pod) *zdsapi.WorkloadInfo {
	return &zdsapi.WorkloadInfo{Name: p.Name, Namespace: p.Namespace, ServiceAccount: p.ServiceAccount}
}

func dupFile(fd int) (*os.File, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("nodeagent: dup netns fd %d: %w", fd, err)
	}
	return os.NewFile(uintptr(nfd), "netns"), nil
}
