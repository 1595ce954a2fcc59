package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// The relay is the benchmark's ceiling row: a minimal Go TCP relay put where
// the two ztunnels sit (one process in the client pod, one in the server
// pod, the same netns hops: loopback, the node-to-node veths, loopback), with
// no TLS, no HTTP/2 and no policy. It uses the same socket I/O as the
// ztunnel (sockets.RawIO, one goroutine per direction) and the same single
// scheduler P, so the ratio it measures against the raw path is what four
// Go processes in the path cost on this machine before any protocol work:
// the floor under the ambient figures, measured in the same run.

// relayBufSize matches the ztunnel's largest copy buffer (hbone.copyBufMax).
const relayBufSize = 256 << 10

// Relay forwards every connection accepted on ln to target until ctx ends,
// then closes ln and waits for its connections to finish.
func Relay(ctx context.Context, ln net.Listener, target string) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relayConn(ctx, c.(*net.TCPConn), target)
		}()
	}
}

// relayConn dials target and copies both ways, half-closing each side on
// the other's EOF, as a TCP proxy does.
func relayConn(ctx context.Context, down *net.TCPConn, target string) {
	defer down.Close()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		_ = down.SetLinger(0)
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	stop := context.AfterFunc(ctx, func() { _ = down.Close(); _ = up.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		relayHalf(up, down)
	}()
	relayHalf(down, up)
	wg.Wait()
}

// relayHalf copies src to dst, then half-closes dst. On an error both
// connections close, which ends the other direction.
func relayHalf(dst, src *net.TCPConn) {
	r, rerr := sockets.NewRawIO(src)
	w, werr := sockets.NewRawIO(dst)
	if err := errors.Join(rerr, werr); err != nil {
		_ = src.Close()
		_ = dst.Close()
		return
	}
	buf := make([]byte, relayBufSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				_ = src.Close()
				_ = dst.Close()
				return
			}
		}
		if err == io.EOF {
			_ = dst.CloseWrite()
			return
		}
		if err != nil {
			_ = src.Close()
			_ = dst.Close()
			return
		}
	}
}
