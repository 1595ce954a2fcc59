package lifecycle

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGroupStopsAndWaits(t *testing.T) {
	g := NewGroup(context.Background())
	stopped := make(chan struct{}, 3)
	for range 3 {
		g.Go(func(ctx context.Context) { <-ctx.Done(); stopped <- struct{}{} })
	}
	g.StopAndWait()
	if len(stopped) != 3 {
		t.Fatalf("%d goroutines stopped, want 3", len(stopped))
	}
}

func TestDrainGracefulWhenWorkFinishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDrainer()
		release, ok := d.Track()
		if !ok {
			t.Fatal("Track refused before drain")
		}
		go func() {
			<-d.Draining()
			time.Sleep(time.Second) // finishes within grace
			release()
		}()
		start := time.Now()
		if !d.Drain(context.Background(), 5*time.Second) {
			t.Fatal("drain was forced")
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("drain took %v, want 1s", got)
		}
		if _, ok := d.Track(); ok {
			t.Fatal("Track accepted work after drain")
		}
	})
}

func TestDrainForcedAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDrainer()
		release, _ := d.Track()
		var forcedAt time.Duration
		start := time.Now()
		go func() {
			<-d.Forced()
			forcedAt = time.Since(start)
			release()
			release() // idempotent
		}()
		if d.Drain(context.Background(), 3*time.Second) {
			t.Fatal("drain reported graceful")
		}
		if forcedAt != 3*time.Second {
			t.Fatalf("forced after %v, want 3s", forcedAt)
		}
		if d.Active() != 0 {
			t.Fatalf("active = %d", d.Active())
		}
	})
}

func TestDrainIdleIsImmediate(t *testing.T) {
	d := NewDrainer()
	if !d.Drain(context.Background(), time.Hour) {
		t.Fatal("idle drain forced")
	}
}
