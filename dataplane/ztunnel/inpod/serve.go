package inpod

import (
	"context"
	"log/slog"
	"sync"
)

// ServeFunc serves one pod until ctx ends, then returns once everything it
// started has stopped: the shape of ztunnel.Proxy.ServePod.
type ServeFunc func(ctx context.Context, wl WorkloadInfo, s *PodSockets) error

// ServePods adapts a blocking ServeFunc to PodHandler: AddPod starts it on a
// goroutine of its own with a per-pod context; RemovePod cancels that
// context and waits for it to return, so the pod's sockets are out of use
// before the Client closes the namespace.
func ServePods(serve ServeFunc, log *slog.Logger) PodHandler {
	if log == nil {
		log = slog.Default()
	}
	return &servingHandler{serve: serve, log: log, pods: map[string]servedPod{}}
}

type servingHandler struct {
	serve ServeFunc
	log   *slog.Logger

	mu   sync.Mutex
	pods map[string]servedPod
}

type servedPod struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *servingHandler) AddPod(_ context.Context, wl WorkloadInfo, s *PodSockets) error {
	// The pod outlives the AddPod call: its context ends only at RemovePod.
	ctx, cancel := context.WithCancel(context.Background())
	p := servedPod{cancel: cancel, done: make(chan struct{})}
	h.mu.Lock()
	h.pods[wl.UID] = p
	h.mu.Unlock()
	go func() {
		defer close(p.done)
		if err := h.serve(ctx, wl, s); err != nil {
			h.log.Error("serving pod failed", "uid", wl.UID, "error", err)
		}
	}()
	return nil
}

func (h *servingHandler) RemovePod(uid string) {
	h.mu.Lock()
	p, ok := h.pods[uid]
	delete(h.pods, uid)
	h.mu.Unlock()
	if ok {
		p.cancel()
		<-p.done
	}
}
