package hbone

import (
	"crypto/tls"
	"net"
	"sync"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// batchMax bounds how much encrypted output is held before a forced write.
const batchMax = 512 << 10

// batchConn sits under tls.Conn and coalesces the TLS records of one frame
// batch into a single write(2). tls.Conn writes each ≤16 KiB record with
// its own syscall, which dominates bulk transfer cost; HBONE flushes once
// per batch anyway, so holding records until that flush is free for
// latency and cuts bulk syscalls ~16×.
type batchConn struct {
	net.Conn
	// rio, when the transport is TCP, does the socket I/O with raw system
	// calls (sockets.RawIO): an HBONE connection is idle between messages,
	// and going through the runtime's system-call path on each one wakes
	// its sysmon thread.
	rio  *sockets.RawIO
	mu   sync.Mutex
	hold bool // set between beginBatch and endBatch
	buf  []byte
}

func newBatchConn(raw net.Conn) *batchConn {
	b := &batchConn{Conn: raw}
	if tc, ok := raw.(*net.TCPConn); ok {
		b.rio, _ = sockets.NewRawIO(tc) // nil (plain I/O) if the conn has no fd
	}
	return b
}

// TLSServer wraps raw for Server.ServeConn with record batching and the
// enforced TLS 1.3 / h2 config. Plain tls.Server conns work too, without
// batching.
func TLSServer(raw net.Conn, cfg *tls.Config) *tls.Conn {
	return tls.Server(newBatchConn(raw), EnforceTLS(cfg))
}

// tlsClient is the client-side counterpart of TLSServer.
func tlsClient(raw net.Conn, cfg *tls.Config) (*tls.Conn, *batchConn) {
	bc := newBatchConn(raw)
	return tls.Client(bc, EnforceTLS(cfg)), bc
}

// batchOf finds the batchConn under a TLS connection, if any.
func batchOf(nc net.Conn) *batchConn {
	if tc, ok := nc.(*tls.Conn); ok {
		bc, _ := tc.NetConn().(*batchConn)
		return bc
	}
	return nil
}

func (b *batchConn) Read(p []byte) (int, error) {
	if b.rio != nil {
		return b.rio.Read(p)
	}
	return b.Conn.Read(p)
}

// writeRaw writes to the transport.
func (b *batchConn) writeRaw(p []byte) (int, error) {
	if b.rio != nil {
		return b.rio.Write(p)
	}
	return b.Conn.Write(p)
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	if !b.hold {
		b.mu.Unlock()
		return b.writeRaw(p)
	}
	if len(b.buf)+len(p) > batchMax {
		if err := b.flushLocked(); err != nil {
			b.mu.Unlock()
			return 0, err
		}
	}
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	return len(p), nil
}

func (b *batchConn) beginBatch() {
	b.mu.Lock()
	b.hold = true
	b.mu.Unlock()
}

// endBatch writes everything held and returns to pass-through mode, so
// writes tls.Conn makes on its own (e.g. KeyUpdate replies) are not delayed.
func (b *batchConn) endBatch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	return b.flushLocked()
}

// abortBatch returns to pass-through mode and drops anything held: used
// when a frame write failed and the connection is being closed.
func (b *batchConn) abortBatch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	b.buf = b.buf[:0]
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.writeRaw(b.buf)
	if cap(b.buf) > 64<<10 && len(b.buf) < 16<<10 {
		b.buf = nil // do not pin a large buffer for small traffic
	} else {
		b.buf = b.buf[:0]
	}
	return err
}
