package transport

import (
	"bufio"
	"context"
	"net"
	"sync"

	"golang.org/x/net/http2"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
)

// streamConn is an accepted HBONE stream as the HTTP server's connection,
// carrying the stream's peer; done closes when the server closes it.
type streamConn struct {
	*hbone.Stream
	r    *bufio.Reader // holds the bytes sniffH2 peeked
	peer waypoint.Peer
	once sync.Once
	done chan struct{}
}

func (c *streamConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *streamConn) Close() error {
	err := c.Stream.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

// streamListener feeds streams to http.Server.Serve.
type streamListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newStreamListener() *streamListener {
	return &streamListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *streamListener) Addr() net.Addr { return streamAddr{} }

// push hands c to the server; false once the listener is closed.
func (l *streamListener) push(ctx context.Context, c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	case <-ctx.Done():
		return false
	}
}

type streamAddr struct{}

func (streamAddr) Network() string { return "hbone" }
func (streamAddr) String() string  { return "hbone" }

// sniffH2 reports whether the stream starts with the HTTP/2 client preface
// (h2c with prior knowledge). It decides at the first byte that differs, so
// a short HTTP/1.1 request is never waited on for 24 bytes.
func sniffH2(br *bufio.Reader) (bool, error) {
	for n := 1; n <= len(http2.ClientPreface); n++ {
		b, err := br.Peek(n)
		if err != nil {
			return false, err
		}
		if b[n-1] != http2.ClientPreface[n-1] {
			return false, nil
		}
	}
	return true, nil
}
