package inpod

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
)

func TestServePodsRunsUntilRemoved(t *testing.T) {
	var running atomic.Int32
	started := make(chan struct{})
	h := ServePods(func(ctx context.Context, wl WorkloadInfo, _ *PodSockets) error {
		running.Add(1)
		defer running.Add(-1)
		close(started)
		<-ctx.Done()
		return errors.New("stopped") // logged, not fatal
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.AddPod(ctx, WorkloadInfo{UID: "u"}, &PodSockets{}); err != nil {
		t.Fatal(err)
	}
	cancel() // the AddPod context does not bound the pod
	<-started
	if running.Load() != 1 {
		t.Fatal("serve not running")
	}
	h.RemovePod("u")
	if running.Load() != 0 {
		t.Error("RemovePod returned before serve did")
	}
	h.RemovePod("u") // unknown: no-op
}
