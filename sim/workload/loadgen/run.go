package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"
)

// Run dials cfg.Addr and runs the configured measurement on that one
// connection. The whole run, connect included, ends by cfg.Timeout or ctx,
// whichever is first; a run cut short is an error, never a partial result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return Result{}, fmt.Errorf("connect %s: %w", cfg.Addr, err)
	}
	conn := c.(*net.TCPConn)
	defer conn.Close()
	// The deadline bounds blocking reads and writes; ctx cancellation (a
	// signal, the caller) closes the connection to unblock them too.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return Result{}, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	res := Result{Mode: cfg.Mode, Addr: cfg.Addr, GoMaxProcs: runtime.GOMAXPROCS(0)}
	switch cfg.Mode {
	case ModeRTT:
		err = runRTT(conn, cfg, &res)
	case ModeBulk:
		err = runBulk(conn, cfg, &res)
	}
	if err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
		err = fmt.Errorf("%w (timed out after %v)", err, cfg.Timeout)
	}
	return res, err
}

// runRTT is sequential ping-pong: write Size bytes, read Size bytes back.
// The clock covers exactly the write and the full read; the payload check
// runs outside it. Samples are preallocated so recording never allocates.
func runRTT(conn *net.TCPConn, cfg Config, res *Result) error {
	msg := pattern(cfg.Size)
	echo := make([]byte, cfg.Size)
	samples := make([]time.Duration, cfg.N)
	total := cfg.Warmup + cfg.N
	var measured time.Duration
	for i := range total {
		start := time.Now()
		if _, err := conn.Write(msg); err != nil {
			return fmt.Errorf("iteration %d: write: %w", i, err)
		}
		if _, err := io.ReadFull(conn, echo); err != nil {
			return fmt.Errorf("iteration %d: read: %w", i, err)
		}
		rtt := time.Since(start)
		if i >= cfg.Warmup {
			samples[i-cfg.Warmup] = rtt
			measured += rtt
		}
		if !bytes.Equal(echo, msg) {
			return fmt.Errorf("iteration %d: the echo differs from what was sent", i)
		}
	}
	lat := Summarize(samples)
	res.Size, res.N = cfg.Size, lat.N
	res.P50us, res.P90us, res.P99us, res.P999us = micros(lat.P50), micros(lat.P90), micros(lat.P99), micros(lat.P999)
	res.MaxUs, res.MeanUs = micros(lat.Max), micros(lat.Mean)
	res.Duration = measured.String()
	return nil
}

// bulkChunk is the write size: large enough that syscalls do not dominate,
// the same as a proxy's largest copy buffer (perf-method.md Z3: 256 KiB).
const bulkChunk = 256 << 10

// runBulk streams WarmupBytes+Bytes while a second goroutine reads the echo
// back, so the stream is full duplex as with iperf-style echo. The clock
// starts when the warm-up bytes have come back and stops when the last byte
// has: throughput is Bytes over that interval (each direction carries it).
// It does not wait for the echo server's EOF, so a path that never forwards
// the half-close still measures; the write side is half-closed anyway.
func runBulk(conn *net.TCPConn, cfg Config, res *Result) error {
	total := cfg.WarmupBytes + cfg.Bytes
	writeErr := make(chan error, 1)
	go func() { writeErr <- writeBulk(conn, total) }()

	buf := make([]byte, bulkChunk)
	var got int64
	start := time.Now() // moved forward once the warm-up bytes are back
	for got < total {
		n, err := conn.Read(buf[:min(int64(len(buf)), total-got)])
		before := got
		got += int64(n)
		if before < cfg.WarmupBytes && got >= cfg.WarmupBytes {
			start = time.Now()
		}
		if err != nil {
			conn.Close() // unblocks the writer
			<-writeErr
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("the echo ended after %d of %d bytes", got, total)
			}
			return fmt.Errorf("read after %d of %d bytes: %w", got, total, err)
		}
	}
	elapsed := time.Since(start)
	if err := <-writeErr; err != nil {
		return err
	}
	if elapsed <= 0 {
		return errors.New("bulk: no measurable time elapsed")
	}
	res.Bytes = cfg.Bytes
	res.BytesPerSec = float64(cfg.Bytes) / elapsed.Seconds()
	res.Duration = elapsed.String()
	return nil
}

func writeBulk(conn *net.TCPConn, total int64) error {
	chunk := pattern(bulkChunk)
	for sent := int64(0); sent < total; {
		n, err := conn.Write(chunk[:min(int64(len(chunk)), total-sent)])
		sent += int64(n)
		if err != nil {
			return fmt.Errorf("write after %d of %d bytes: %w", sent, total, err)
		}
	}
	return conn.CloseWrite()
}

// pattern is n bytes that are not all zero, so an echo that returns the
// wrong bytes (or zeroes) is caught by the rtt check.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}
