package hbone

import (
	"fmt"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// lockWrite takes the write lock and marks a write in progress.
func (c *conn) lockWrite() {
	c.wmu.Lock()
	c.writeStart.Store(time.Now().UnixNano())
}

// flushLocked pushes the frame batch through TLS and out in one write.
// Caller holds wmu.
func (c *conn) flushLocked() error {
	if c.bc == nil {
		return c.bw.Flush()
	}
	c.bc.beginBatch(c.bw.Buffered())
	err := c.bw.Flush()
	if ferr := c.bc.endBatch(); err == nil {
		err = ferr
	}
	return err
}

// unlockWrite flushes the batch (unless err), releases the lock and closes
// the connection on any write failure: a half-written frame cannot be
// recovered.
func (c *conn) unlockWrite(err error) error {
	if err == nil {
		err = c.flushLocked()
	}
	if err != nil && c.bc != nil {
		c.bc.abortBatch() // the connection is closing: drop what a failed frame left held
	}
	c.writeStart.Store(0)
	c.wmu.Unlock()
	if err != nil {
		if cerr := c.err(); cerr != nil {
			return cerr
		}
		err = fmt.Errorf("hbone: write: %w", err)
		c.closeWithError(err)
	}
	return err
}

// writeData sends one DATA frame; p must fit the peer's max frame size and
// the send windows already reserved by the caller.
func (c *conn) writeData(s *Stream, p []byte, end bool) error {
	c.lockWrite()
	if s.wclosed {
		c.writeStart.Store(0)
		c.wmu.Unlock()
		return ErrWriteClosed
	}
	if end {
		s.wclosed = true
	}
	if c.bc != nil {
		// A frame larger than the bufio buffer bypasses it straight into
		// tls.Conn; holding the batch first keeps all of its records for
		// the single write that unlockWrite's flush makes.
		c.bc.beginBatch(c.bw.Buffered() + frameHeaderLen + len(p))
	}
	return c.unlockWrite(c.writeDataFrameLocked(s.id, end, p))
}

const frameHeaderLen = 9

// writeDataFrameLocked writes a DATA frame (RFC 9113 §6.1, never padded)
// without http2.Framer, whose WriteData copies the payload into its own
// buffer before writing it to bufio, which may copy it again. A payload
// larger than bufio's free space goes straight to TLS after the header.
// Caller holds wmu and guarantees 0 < id and len(p) <= the peer's max
// frame size.
func (c *conn) writeDataFrameLocked(id uint32, end bool, p []byte) error {
	h := &c.dataHeader
	h[0], h[1], h[2] = byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
	h[3] = byte(http2.FrameData)
	h[4] = 0
	if end {
		h[4] = byte(http2.FlagDataEndStream)
	}
	h[5], h[6], h[7], h[8] = byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id)
	if _, err := c.bw.Write(h[:]); err != nil {
		return err
	}
	if len(p) > c.bw.Available() {
		// Flush the header (and any queued control frames) as one small
		// record rather than copying up to 64 KiB of payload into bufio
		// only to write it out again; the payload then bypasses bufio.
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
	_, err := c.bw.Write(p)
	return err
}

// writeHeadersLocked HPACK-encodes fields and writes HEADERS plus any
// CONTINUATION frames. Caller must hold wmu: HPACK state is order-sensitive.
func (c *conn) writeHeadersLocked(id uint32, fields []hpack.HeaderField, end bool) error {
	c.hbuf.Reset()
	for _, f := range fields {
		if err := c.henc.WriteField(f); err != nil {
			return err
		}
	}
	block := c.hbuf.Bytes()
	c.mu.Lock()
	maxFrag := int(c.peerMaxFrame)
	c.mu.Unlock()
	first := true
	for first || len(block) > 0 {
		frag := block
		if len(frag) > maxFrag {
			frag = frag[:maxFrag]
		}
		block = block[len(frag):]
		var err error
		if first {
			err = c.fr.WriteHeaders(http2.HeadersFrameParam{
				StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0,
			})
			first = false
		} else {
			err = c.fr.WriteContinuation(id, len(block) == 0, frag)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeResponse sends a :status HEADERS frame (server side).
func (c *conn) writeResponse(s *Stream, status int, end bool) error {
	c.lockWrite()
	if s.wclosed {
		c.writeStart.Store(0)
		c.wmu.Unlock()
		return ErrAlreadyResponded
	}
	if end {
		s.wclosed = true
	}
	err := c.writeHeadersLocked(s.id, []hpack.HeaderField{{Name: ":status", Value: statusText(status)}}, end)
	return c.unlockWrite(err)
}

// writeStatusForUnregistered answers a stream that never got a Stream object
// (validation failures in the reader).
func (c *conn) writeStatusForUnregistered(id uint32, status int) error {
	c.lockWrite()
	err := c.writeHeadersLocked(id, []hpack.HeaderField{{Name: ":status", Value: statusText(status)}}, true)
	return c.unlockWrite(err)
}

// writeRST resets a stream; s may be nil for streams we do not track.
func (c *conn) writeRST(s *Stream, id uint32, code http2.ErrCode) error {
	c.lockWrite()
	if s != nil {
		s.wclosed = true
	}
	return c.unlockWrite(c.fr.WriteRSTStream(id, code))
}

// writeWindowUpdates sends stream and/or connection credit in one flush.
func (c *conn) writeWindowUpdates(id uint32, streamInc, connInc uint32) error {
	c.lockWrite()
	var err error
	if streamInc > 0 {
		err = c.fr.WriteWindowUpdate(id, streamInc)
	}
	if err == nil && connInc > 0 {
		err = c.fr.WriteWindowUpdate(0, connInc)
	}
	return c.unlockWrite(err)
}

func (c *conn) writeSettingsAck() error {
	c.lockWrite()
	return c.unlockWrite(c.fr.WriteSettingsAck())
}

func (c *conn) writePing(ack bool, data [8]byte) error {
	c.lockWrite()
	return c.unlockWrite(c.fr.WritePing(ack, data))
}

// goAwayBestEffort sends GOAWAY only if no write is in progress, with a
// short write deadline: used when closing anyway, where waiting behind a
// stalled writer would only delay the close.
func (c *conn) goAwayBestEffort(code http2.ErrCode) {
	if !c.wmu.TryLock() {
		return
	}
	c.writeStart.Store(time.Now().UnixNano())
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	err := c.fr.WriteGoAway(c.lastPeerStream(), code, nil)
	if err == nil {
		err = c.flushLocked()
	}
	_ = c.nc.SetWriteDeadline(time.Time{})
	_ = c.unlockWrite(err)
}

func (c *conn) writeGoAway(last uint32, code http2.ErrCode) error {
	c.lockWrite()
	return c.unlockWrite(c.fr.WriteGoAway(last, code, nil))
}

// statusText avoids strconv for the handful of codes HBONE uses.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 431:
		return "431"
	case 503:
		return "503"
	}
	return fmt.Sprintf("%03d", code)
}
