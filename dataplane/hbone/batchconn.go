package hbone

import (
	"crypto/tls"
	"net"
	"sync"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// batchMax bounds how much encrypted output is held before a forced write;
// it is the largest pooled buffer class, so a batch never allocates.
const batchMax = 1 << 20

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
	hold bool   // set between beginBatch and endBatch
	hint int    // expected size of the held batch, for the first buffer
	buf  []byte // pooled (getBuf) while a batch holds records; nil otherwise

	// Read-ahead, reader side only (tls.Conn serializes its reads): bytes
	// read from the socket that tls.Conn has not taken yet. tls.Conn reads
	// into its record buffer's free space, about 32 KiB, so a bulk stream
	// costs one read(2) per two records; one read of up to readAheadSize
	// replaces eight of them for one memmove. The buffer is pooled and held
	// only while unread bytes remain, so an idle connection pins none.
	ahead    []byte
	aheadOff int
	aheadErr error // the error that came with the read-ahead bytes
}

// readAheadSize is one read(2) from a TLS socket: the size class of the
// copy buffers on the plain side (copyBufMax).
const readAheadSize = copyBufMax

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
	if b.ahead != nil {
		n := copy(p, b.ahead[b.aheadOff:])
		b.aheadOff += n
		if b.aheadOff < len(b.ahead) {
			return n, nil
		}
		putBuf(b.ahead)
		err := b.aheadErr
		b.ahead, b.aheadOff, b.aheadErr = nil, 0, nil
		return n, err
	}
	if len(p) == 0 || len(p) >= readAheadSize/2 {
		return b.readRaw(p)
	}
	buf := getBuf(readAheadSize)
	buf = buf[:cap(buf)]
	n, err := b.readRaw(buf)
	if n <= len(p) {
		copy(p, buf[:max(n, 0)])
		putBuf(buf)
		return n, err
	}
	c := copy(p, buf[:n])
	b.ahead, b.aheadOff, b.aheadErr = buf[:n], c, err
	return c, nil
}

// readRaw reads from the transport.
func (b *batchConn) readRaw(p []byte) (int, error) {
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
	if err := b.reserveLocked(len(p)); err != nil {
		b.mu.Unlock()
		return 0, err
	}
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	return len(p), nil
}

// reserveLocked makes room for n more held bytes: the first record takes a
// pooled buffer sized by the batch's hint, a batch that outgrows it moves
// to the next size class, and one that would pass batchMax is written out.
func (b *batchConn) reserveLocked(n int) error {
	need := len(b.buf) + n
	if need <= cap(b.buf) {
		return nil
	}
	if b.buf == nil {
		b.buf = getBuf(min(max(b.hint, n), batchMax))
		return nil
	}
	if need <= batchMax {
		nb := append(getBuf(need), b.buf...)
		putBuf(b.buf)
		b.buf = nb
		return nil
	}
	return b.flushLocked()
}

// beginBatch holds writes until endBatch. sizeHint is roughly how many
// bytes the batch will carry (0 if unknown), so the held buffer is taken
// from the pool at the right size once instead of grown record by record.
func (b *batchConn) beginBatch(sizeHint int) {
	b.mu.Lock()
	b.hold = true
	b.hint = tlsSize(sizeHint)
	b.mu.Unlock()
}

// tlsSize estimates the TLS 1.3 bytes for n bytes of plaintext: each
// record of up to 16 KiB adds a 5-byte header, a content-type byte and a
// 16-byte tag.
func tlsSize(n int) int {
	const record, overhead = 16 << 10, 22
	return n + (n/record+1)*overhead
}

// endBatch writes everything held and returns to pass-through mode, so
// writes tls.Conn makes on its own (e.g. KeyUpdate replies) are not delayed.
// The buffer goes back to the pool: an idle connection pins none.
func (b *batchConn) endBatch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	err := b.flushLocked()
	b.releaseLocked()
	return err
}

// abortBatch returns to pass-through mode and drops anything held: used
// when a frame write failed and the connection is being closed.
func (b *batchConn) abortBatch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	b.releaseLocked()
}

func (b *batchConn) releaseLocked() {
	if b.buf != nil {
		putBuf(b.buf)
		b.buf = nil
	}
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.writeRaw(b.buf)
	b.buf = b.buf[:0]
	return err
}
