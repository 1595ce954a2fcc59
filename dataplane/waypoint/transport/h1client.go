package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// h1Client sends body-less HTTP/1.1 requests on pooled endpoint
// connections entirely from the caller's goroutine: it writes the request
// and reads the response itself. http.Transport hands every request to a
// per-connection write goroutine and every response (and body read) back
// from a read goroutine; on the waypoint's hot path those handoffs cost
// more than the proxying. Requests with a body, upgrades and HTTP/2 stay on
// http.Transport, whose full-duplex machinery they need.
type h1Client struct {
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int           // per endpoint
	idleTimeout time.Duration // an idle connection older than this is closed, not reused

	mu   sync.Mutex
	idle map[string][]*h1Conn
}

type h1Conn struct {
	conn   net.Conn
	read   int64 // bytes read from conn, to tell "nothing came back"
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func (c *h1Conn) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	c.read += int64(n)
	return n, err
}

// directEligible: the request can go through h1Client. Only idempotent
// ones: h1Client has no reader watching idle connections, so it learns that
// an endpoint closed one only when a request on it fails, and then resends
// — which only an idempotent request allows.
func directEligible(req *http.Request) bool {
	return (req.Body == nil || req.Body == http.NoBody) && idempotent(req) && req.Header.Get("Upgrade") == "" &&
		req.Header.Get("Connection") == "" && !req.Close
}

func (h *h1Client) roundTrip(req *http.Request) (*http.Response, error) {
	addr := req.URL.Host
	for {
		pc, reused := h.get(addr)
		if pc == nil {
			c, err := h.dial(req.Context(), "tcp", addr)
			if err != nil {
				return nil, err
			}
			pc = &h1Conn{conn: c}
			pc.br, pc.bw = bufio.NewReaderSize(pc, 4<<10), bufio.NewWriterSize(c, 4<<10)
		}
		resp, err := h.send(pc, req)
		if err == nil {
			return resp, nil
		}
		_ = pc.conn.Close()
		// A kept-alive connection the endpoint closed meanwhile fails
		// before any response byte: like http.Transport, retry an
		// idempotent request on a fresh connection.
		if !reused || pc.read != 0 || !idempotent(req) || req.Context().Err() != nil {
			return nil, err
		}
	}
}

// send writes req and reads its response head on pc. Cancelling req's
// context poisons pc's deadline, which fails the read or write in progress.
func (h *h1Client) send(pc *h1Conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(time.Unix(1, 0)) })
	pc.read = 0
	if err := req.Write(pc.bw); err != nil {
		stop()
		return nil, h.ctxErr(ctx, err)
	}
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, h.ctxErr(ctx, err)
	}
	for {
		resp, err := http.ReadResponse(pc.br, req)
		if err != nil {
			stop()
			return nil, h.ctxErr(ctx, err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // informational: the final response follows
		}
		keep := !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols
		b := &h1Body{client: h, pc: pc, addr: req.URL.Host, body: resp.Body, stop: stop, keep: keep}
		if resp.Body == http.NoBody {
			b.release(true)
		} else {
			resp.Body = b
		}
		return resp, nil
	}
}

func (h *h1Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// h1Body returns its connection to the pool once the body was read to the
// end; closed early, the connection is closed (what is left unread would
// corrupt the next response).
type h1Body struct {
	client *h1Client
	pc     *h1Conn
	addr   string
	body   io.ReadCloser
	stop   func() bool
	keep   bool
	mu     sync.Mutex
	done   bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errors.New("waypoint: read on a finished upstream response body")
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.releaseLocked(true)
	} else if err != nil {
		b.releaseLocked(false)
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked(false)
	return nil
}

func (b *h1Body) release(complete bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked(complete)
}

func (b *h1Body) releaseLocked(complete bool) {
	if b.done {
		return
	}
	b.done = true
	// stop reports false once the context fired: the deadline is poisoned.
	if b.stop() && complete && b.keep && b.pc.br.Buffered() == 0 {
		b.client.put(b.addr, b.pc)
		return
	}
	_ = b.pc.conn.Close()
}

func (h *h1Client) get(addr string) (*h1Conn, bool) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		list := h.idle[addr]
		if len(list) == 0 {
			return nil, false
		}
		pc := list[len(list)-1]
		h.idle[addr] = list[:len(list)-1]
		if now.Sub(pc.idleAt) < h.idleTimeout {
			return pc, true
		}
		_ = pc.conn.Close()
	}
}

func (h *h1Client) put(addr string, pc *h1Conn) {
	pc.idleAt = time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idle == nil {
		h.idle = map[string][]*h1Conn{}
	}
	if len(h.idle[addr]) >= h.maxIdle {
		_ = pc.conn.Close()
		return
	}
	h.idle[addr] = append(h.idle[addr], pc)
}

func (h *h1Client) closeIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for addr, list := range h.idle {
		for _, pc := range list {
			_ = pc.conn.Close()
		}
		delete(h.idle, addr)
	}
}
