package hbone

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type role uint8

const (
	roleClient role = iota
	roleServer
)

func (r role) String() string {
	if r == roleClient {
		return "client"
	}
	return "server"
}

// initialWindow is RFC 9113's default window before SETTINGS apply.
const initialWindow = 65535

// conn is one HTTP/2 connection over TLS, shared by client and server.
//
// Goroutines: runReader (the only caller of fr.ReadFrame) and runKeepalive
// are owned by conn.wg for clients and by ServeConn for servers; server
// handler goroutines are owned by conn.wg. closeWithError is the single exit:
// it closes done, the socket and every stream.
//
// Lock order: wmu before mu before Stream.mu; never hold mu or Stream.mu
// while doing I/O.
type conn struct {
	nc     net.Conn // *tls.Conn, or a plain conn in tests
	state  tls.ConnectionState
	role   role
	limits Limits
	log    *slog.Logger

	br *bufio.Reader
	fr *http2.Framer // ReadFrame only from runReader; Write* only under wmu

	// Write side, guarded by wmu.
	wmu  sync.Mutex
	bw   *bufio.Writer
	bc   *batchConn // under the TLS conn when we built it; nil otherwise
	henc *hpack.Encoder
	hbuf bytes.Buffer
	// dataHeader is the DATA frame header being written (a field, so the
	// hot path does not allocate it per frame).
	dataHeader [frameHeaderLen]byte
	// writeStart is the unix-nano start of the write in progress (0 = none),
	// so keepalive can detect a peer that stopped reading without taking wmu.
	writeStart atomic.Int64

	// Receive flow control. recvWindow is only decremented by runReader and
	// incremented when credit is returned; recvCredit accumulates consumed
	// bytes until a batched WINDOW_UPDATE is worth sending.
	recvWindow atomic.Int64
	recvCredit atomic.Int64

	mu             sync.Mutex
	streams        map[uint32]*Stream
	nextStreamID   uint32 // client: next ID to open
	maxPeerStream  uint32 // server: highest stream ID the peer opened
	sendWindow     int64  // connection-level send window
	peerInitWindow int64
	peerMaxFrame   uint32
	peerMaxStreams uint32
	reserved       int // client: slots promised to Connect calls in flight
	handlers       int // server: handler goroutines running
	goingAway      bool
	idleSince      time.Time
	pingSentAt     time.Time // zero when no PING is outstanding
	lastPingAt     time.Time
	closed         bool
	closeErr       error

	// Flood accounting, owned by runReader.
	ctrlCount int
	ctrlSince time.Time
	sawFirst  bool // a SETTINGS frame must be the peer's first frame

	done      chan struct{} // closed by closeWithError
	closeOnce sync.Once
	wg        sync.WaitGroup // keepalive (client) and handlers (server)
	onClosed  func(*conn)    // client pool eviction; may be nil

	// Server only.
	srv    *Server
	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc
}

func newConn(nc net.Conn, st tls.ConnectionState, r role, l Limits, log *slog.Logger) *conn {
	c := &conn{
		nc:             nc,
		state:          st,
		role:           r,
		limits:         l,
		log:            log,
		br:             bufio.NewReaderSize(nc, 64<<10),
		bw:             bufio.NewWriterSize(nc, 64<<10),
		streams:        make(map[uint32]*Stream),
		nextStreamID:   1,
		sendWindow:     initialWindow,
		peerInitWindow: initialWindow,
		peerMaxFrame:   16384,
		peerMaxStreams: l.MaxStreamsPerConn,
		idleSince:      time.Now(),
		done:           make(chan struct{}),
		bc:             batchOf(nc),
	}
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.SetMaxReadFrameSize(l.MaxFrameSize)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = l.MaxHeaderListSize
	c.fr.SetReuseFrames()
	c.recvWindow.Store(initialWindow)
	return c
}

// localSettings is what we advertise; the connection window is raised
// separately with a WINDOW_UPDATE on stream 0.
func (c *conn) localSettings() []http2.Setting {
	s := []http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: c.limits.StreamWindow},
		{ID: http2.SettingMaxFrameSize, Val: c.limits.MaxFrameSize},
		{ID: http2.SettingMaxHeaderListSize, Val: c.limits.MaxHeaderListSize},
	}
	if c.role == roleServer {
		s = append(s, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.limits.MaxConcurrentStreams})
	} else {
		s = append(s, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	}
	return s
}

// writeInitial sends our SETTINGS and the connection WINDOW_UPDATE (after
// the client preface, for clients).
func (c *conn) writeInitial() error {
	c.lockWrite()
	var err error
	if c.role == roleClient {
		_, err = c.bw.WriteString(http2.ClientPreface)
	}
	if err == nil {
		err = c.fr.WriteSettings(c.localSettings()...)
	}
	if inc := c.limits.ConnWindow - initialWindow; err == nil && inc > 0 {
		err = c.fr.WriteWindowUpdate(0, inc)
		c.recvWindow.Add(int64(inc))
	}
	return c.unlockWrite(err)
}

// err returns why the connection closed, or nil while it is open.
func (c *conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.closeErr
}

// closeWithError tears the connection down exactly once. A nil err means a
// graceful close; streams still see ErrConnClosed.
func (c *conn) closeWithError(err error) {
	c.closeOnce.Do(func() {
		if err == nil {
			err = ErrConnClosed
		}
		c.mu.Lock()
		c.closed = true
		c.closeErr = err
		streams := make([]*Stream, 0, len(c.streams))
		for _, s := range c.streams {
			streams = append(streams, s)
		}
		clear(c.streams)
		c.mu.Unlock()
		close(c.done)
		// Close the transport under TLS directly: tls.Conn.Close would try
		// to send close_notify and can block for seconds on a peer that
		// stopped reading. GOAWAY is HTTP/2's graceful signal.
		if tc, ok := c.nc.(*tls.Conn); ok && tc.NetConn() != nil {
			_ = tc.NetConn().Close()
		} else {
			_ = c.nc.Close()
		}
		for _, s := range streams {
			s.connClosed(err)
		}
		if c.cancel != nil {
			c.cancel()
		}
		if c.onClosed != nil {
			c.onClosed(c)
		}
		c.log.Debug("hbone connection closed", "role", c.role, "reason", err)
	})
}

// goAway sends GOAWAY and stops new streams; the connection closes once the
// last stream finishes (or right away if none are open).
func (c *conn) goAway(code http2.ErrCode) {
	c.mu.Lock()
	if c.goingAway || c.closed {
		c.mu.Unlock()
		return
	}
	c.goingAway = true
	last := c.maxPeerStream
	idle := len(c.streams) == 0 && c.reserved == 0
	c.mu.Unlock()
	_ = c.writeGoAway(last, code)
	if idle {
		c.closeWithError(nil)
	}
}

func (c *conn) lookup(id uint32) *Stream {
	c.mu.Lock()
	s := c.streams[id]
	c.mu.Unlock()
	return s
}

// removeStream forgets a finished stream and closes a draining connection
// once it has none left.
func (c *conn) removeStream(s *Stream) {
	c.mu.Lock()
	if c.streams[s.id] != s {
		c.mu.Unlock()
		return
	}
	delete(c.streams, s.id)
	empty := len(c.streams) == 0 && c.reserved == 0
	if empty {
		c.idleSince = time.Now()
	}
	drainDone := empty && c.goingAway
	c.mu.Unlock()
	if drainDone {
		c.closeWithError(nil)
	}
}

// returnConnCredit records consumed or discarded bytes at connection level
// and reports how much to send in a WINDOW_UPDATE now (0 = keep batching).
// Updates are batched to half the window, as the h2 crate does.
func (c *conn) returnConnCredit(n int64) uint32 {
	if n <= 0 {
		return 0
	}
	total := c.recvCredit.Add(n)
	if total < int64(c.limits.ConnWindow)/2 {
		return 0
	}
	if !c.recvCredit.CompareAndSwap(total, 0) {
		return 0 // a concurrent caller took it
	}
	c.recvWindow.Add(total)
	return uint32(total)
}

// creditConnNow returns discarded bytes and sends the update if due.
func (c *conn) creditConnNow(n int64) {
	if inc := c.returnConnCredit(n); inc > 0 {
		_ = c.writeWindowUpdates(0, 0, inc)
	}
}
