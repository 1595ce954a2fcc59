package telemetry_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/telemetry"
)

// recorder is the process's stdout stand-in: it counts write calls.
type recorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	return r.buf.Write(p)
}

func (r *recorder) snapshot() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String(), r.writes
}

// TestBufferedWriterBatchesWithoutLoss: lines from concurrent writers all
// arrive, whole, each writer's in order, in fewer writes than lines; Close
// writes what the last interval had not.
func TestBufferedWriterBatchesWithoutLoss(t *testing.T) {
	out := &recorder{}
	w := telemetry.NewBufferedWriter(out, time.Hour, 1<<20) // only Close flushes
	const writers, lines = 4, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "writer=%d line=%d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if got, _ := out.snapshot(); got != "" {
		t.Fatalf("written before the interval or Close: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	if writes != 1 {
		t.Errorf("Close wrote %d batches, want 1", writes)
	}
	next := make([]int, writers)
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(l, "writer=%d line=%d", &g, &i); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("writer %d: %d lines arrived, want %d", g, n, lines)
		}
	}
	fmt.Fprintln(w, "after close")
	if got, _ := out.snapshot(); !strings.HasSuffix(got, "after close\n") {
		t.Errorf("a write after Close was not written through: %q", got[max(0, len(got)-40):])
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestBufferedWriterFlushesOnItsOwn: a line reaches the output within about
// one interval without Close (generous bound: the machine is shared).
func TestBufferedWriterFlushesOnItsOwn(t *testing.T) {
	out := &recorder{}
	w := telemetry.NewBufferedWriter(out, 10*time.Millisecond, 0)
	defer w.Close()
	fmt.Fprintln(w, "request complete")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := out.snapshot(); got == "request complete\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the background flush never wrote the line")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBufferedWriterBoundsItsBuffer: a write that would pass the limit
// writes the batch first, so memory stays bounded and nothing is dropped.
func TestBufferedWriterBoundsItsBuffer(t *testing.T) {
	out := &recorder{}
	w := telemetry.NewBufferedWriter(out, time.Hour, 100)
	line := strings.Repeat("x", 39) + "\n" // 40 bytes
	for range 3 {
		fmt.Fprint(w, line)
	}
	got, writes := out.snapshot()
	if writes != 1 || got != line+line {
		t.Fatalf("after 120 bytes with a 100-byte limit: %d writes of %q, want the first two lines in one", writes, got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); got != line+line+line {
		t.Errorf("after Close: %q", got)
	}
}
