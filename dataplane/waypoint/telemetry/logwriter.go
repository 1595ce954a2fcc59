package telemetry

import (
	"io"
	"sync"
	"time"
)

// Defaults of NewBufferedWriter: lines reach the output within about
// DefaultLogFlushInterval, and a writer never holds more than
// DefaultLogBufferLimit bytes (beyond it the writing request flushes).
const (
	DefaultLogFlushInterval = 50 * time.Millisecond
	DefaultLogBufferLimit   = 64 << 10
)

// BufferedWriter takes the access log off the request path: Write appends
// the line to a bounded buffer and one background goroutine writes the
// batch to the output, so a thousand requests a second cost a few dozen
// write(2) calls instead of a thousand. Nothing is dropped: when the buffer
// is full the caller writes the batch itself, and Close writes the rest.
// Lines stay in order and whole (each Write is one slog record).
type BufferedWriter struct {
	out      io.Writer
	interval time.Duration
	limit    int

	outMu   sync.Mutex // held while writing to out, so batches keep their order
	mu      sync.Mutex // guards pending and closed
	pending []byte
	closed  bool

	wake chan struct{} // a batch started (capacity 1)
	stop chan struct{}
	done chan struct{}
}

// NewBufferedWriter starts the flusher; interval and limit ≤ 0 take the
// defaults. Close it to write the last lines and stop the goroutine.
func NewBufferedWriter(out io.Writer, interval time.Duration, limit int) *BufferedWriter {
	if interval <= 0 {
		interval = DefaultLogFlushInterval
	}
	if limit <= 0 {
		limit = DefaultLogBufferLimit
	}
	b := &BufferedWriter{out: out, interval: interval, limit: limit, pending: make([]byte, 0, 4<<10),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Write buffers p (copied). After Close it writes through.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.outMu.Lock()
		defer b.outMu.Unlock()
		return b.out.Write(p)
	}
	if len(b.pending)+len(p) > b.limit && len(b.pending) > 0 {
		b.mu.Unlock()
		if err := b.Flush(); err != nil {
			return 0, err
		}
		b.mu.Lock()
	}
	first := len(b.pending) == 0
	b.pending = append(b.pending, p...)
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes everything buffered so far.
func (b *BufferedWriter) Flush() error {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending = make([]byte, 0, cap(batch))
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	_, err := b.out.Write(batch)
	return err
}

// Close writes the buffered lines and stops the flusher; later writes go
// straight to the output. Safe to call more than once.
func (b *BufferedWriter) Close() error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if !already {
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}

// run waits for a batch to start, lets it collect lines for one interval,
// and writes it.
func (b *BufferedWriter) run() {
	defer close(b.done)
	t := time.NewTimer(b.interval)
	t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
		}
		t.Reset(b.interval)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		}
		_ = b.Flush() // the access log has no one to report a failed write to
	}
}
