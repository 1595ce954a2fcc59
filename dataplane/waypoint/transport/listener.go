package transport

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"

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

// closeLinger is how long a closing connection waits for the peer to end
// its side after our END_STREAM (net/http's rstAvoidanceDelay is 500 ms).
const closeLinger = 500 * time.Millisecond

// Close ends the connection the way net/http's closeWriteAndWait ends a TCP
// one: END_STREAM first, so the client reads everything written and then
// EOF, and only then the stream is closed. Closing at once would reset the
// stream (RST_STREAM CANCEL), and a reset discards data the peer has not
// read yet — a response written just before a drain would be lost. The
// wait runs on its own goroutine (the server may close idle connections
// while holding its lock); done is closed when the stream is gone, and
// serveHTTP waits for it.
func (c *streamConn) Close() error {
	c.once.Do(func() {
		go func() {
			defer close(c.done)
			if c.Stream.CloseWrite() == nil {
				_ = c.Stream.SetReadDeadline(time.Now().Add(closeLinger))
				buf := make([]byte, 4096)
				for { // until the peer's END_STREAM, a reset or the deadline
					if _, err := c.Stream.Read(buf); err != nil {
						break
					}
				}
			}
			_ = c.Stream.Close()
		}()
	})
	return nil
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
