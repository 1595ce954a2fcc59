package hbone

import (
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/net/http2"
)

// connError is a connection-level protocol violation: we send GOAWAY with
// Code and close.
type connError struct {
	Code   http2.ErrCode
	Reason string
}

func (e *connError) Error() string {
	return fmt.Sprintf("hbone: connection error %v: %s", e.Code, e.Reason)
}

// runReader is the connection's only frame reader. It demultiplexes DATA
// straight into stream queues and handles control frames inline; it returns
// when the connection fails and always closes it.
func (c *conn) runReader() {
	err := c.readLoop()
	var ce *connError
	if errors.As(err, &ce) {
		c.log.Debug("hbone protocol error, closing", "role", c.role, "err", err)
		if c.writeGoAway(c.lastPeerStream(), ce.Code) == nil {
			c.lingerDiscard()
		}
	}
	c.closeWithError(err)
}

// lingerDiscard keeps reading (and dropping) for a short bounded time after
// GOAWAY, so closing with unread input does not turn into a TCP RST that
// destroys the GOAWAY before the peer reads it.
func (c *conn) lingerDiscard() {
	_ = c.nc.SetReadDeadline(time.Now().Add(min(time.Second, c.limits.HandshakeTimeout)))
	_, _ = io.Copy(io.Discard, c.br)
}

func (c *conn) readLoop() error {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.noteStreamOpened(se.StreamID)
				c.resetByUs(se.StreamID, se.Code)
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				return &connError{Code: http2.ErrCode(ce), Reason: fmt.Sprint(c.fr.ErrorDetail())}
			}
			return err
		}
		if err := c.dispatch(f); err != nil {
			return err
		}
	}
}

func (c *conn) dispatch(f http2.Frame) error {
	if !c.sawFirst {
		if _, ok := f.(*http2.SettingsFrame); !ok {
			return &connError{Code: http2.ErrCodeProtocol, Reason: "first frame is not SETTINGS"}
		}
		c.sawFirst = true
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		if len(f.Data()) == 0 && !f.StreamEnded() {
			if err := c.countControl(); err != nil {
				return err
			}
		}
		return c.onData(f)
	case *http2.MetaHeadersFrame:
		if c.role == roleServer {
			return c.onRequestHeaders(f)
		}
		return c.onResponseHeaders(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.SettingsFrame:
		if err := c.countControl(); err != nil {
			return err
		}
		return c.onSettings(f)
	case *http2.PingFrame:
		if err := c.countControl(); err != nil {
			return err
		}
		return c.onPing(f)
	case *http2.RSTStreamFrame:
		if err := c.countControl(); err != nil {
			return err
		}
		return c.onRSTStream(f)
	case *http2.GoAwayFrame:
		c.onGoAway(f)
		return nil
	case *http2.PushPromiseFrame:
		return &connError{Code: http2.ErrCodeProtocol, Reason: "PUSH_PROMISE with push disabled"}
	default: // PRIORITY and unknown extension frames are ignored (RFC 9113 §5.5)
		return c.countControl()
	}
}

// countControl bounds frames that cost us work but carry no payload.
func (c *conn) countControl() error {
	now := time.Now()
	if now.Sub(c.ctrlSince) > time.Second {
		c.ctrlSince = now
		c.ctrlCount = 0
	}
	c.ctrlCount++
	if c.ctrlCount > c.limits.MaxControlFramesPerSecond {
		return &connError{Code: http2.ErrCodeEnhanceYourCalm, Reason: ErrFlood.Error()}
	}
	return nil
}

func (c *conn) lastPeerStream() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxPeerStream
}

// isIdleStream reports whether id was never opened (RFC 9113 §5.1 "idle").
func (c *conn) isIdleStream(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.role == roleClient {
		return id%2 == 1 && id >= c.nextStreamID || id%2 == 0
	}
	return id%2 == 1 && id > c.maxPeerStream
}

// noteStreamOpened records a peer-initiated stream ID that we refuse before
// it gets a Stream, so later frames on it are "closed", not "idle".
func (c *conn) noteStreamOpened(id uint32) {
	c.mu.Lock()
	if c.role == roleServer && id%2 == 1 && id > c.maxPeerStream {
		c.maxPeerStream = id
	}
	c.mu.Unlock()
}

// resetByUs sends RST_STREAM and tears the stream down locally.
func (c *conn) resetByUs(id uint32, code http2.ErrCode) {
	s := c.lookup(id)
	if s == nil {
		_ = c.writeRST(nil, id, code)
		return
	}
	_ = s.abort(code)
}

func (c *conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int64(f.Length) // padding counts against flow control
	if c.recvWindow.Add(-n) < 0 {
		return &connError{Code: http2.ErrCodeFlowControl, Reason: "connection window exceeded"}
	}
	s := c.lookup(id)
	if s == nil {
		c.creditConnNow(n)
		if c.isIdleStream(id) {
			return &connError{Code: http2.ErrCodeProtocol, Reason: "DATA on idle stream"}
		}
		_ = c.writeRST(nil, id, http2.ErrCodeStreamClosed)
		return nil
	}
	data := f.Data()
	credit := n - int64(len(data)) // padding is never consumed by anyone
	s.mu.Lock()
	if s.recvEnd {
		s.mu.Unlock()
		c.creditConnNow(n)
		c.resetByUs(id, http2.ErrCodeStreamClosed)
		return nil
	}
	s.recvWindow -= n
	if s.recvWindow < 0 {
		s.mu.Unlock()
		c.creditConnNow(n)
		c.resetByUs(id, http2.ErrCodeFlowControl)
		return nil
	}
	var streamInc uint32
	wake := true
	if s.readClosed {
		credit = n
		streamInc = s.consumedLocked(int(n))
	} else if len(data) > 0 {
		var direct int
		direct, wake = s.deliverLocked(data)
		credit += int64(direct)
		streamInc = s.consumedLocked(direct)
	}
	ended := f.StreamEnded()
	if ended {
		s.recvEnd = true
		wake = true
	}
	finished := ended && s.sentEnd
	s.mu.Unlock()
	if wake {
		notify(s.readable)
	}
	if credit > 0 || streamInc > 0 {
		s.sendCredit(streamInc, int(credit))
	}
	if finished {
		c.removeStream(s)
	}
	return nil
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	c.mu.Lock()
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > 1<<31-1 {
			c.mu.Unlock()
			return &connError{Code: http2.ErrCodeFlowControl, Reason: "connection send window overflow"}
		}
		for _, s := range c.streams {
			notify(s.windowCh)
		}
		c.mu.Unlock()
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		c.mu.Unlock()
		return nil // a stream we already closed
	}
	s.sendWindow += inc
	overflow := s.sendWindow > 1<<31-1
	c.mu.Unlock()
	if overflow {
		c.resetByUs(f.StreamID, http2.ErrCodeFlowControl)
		return nil
	}
	notify(s.windowCh)
	return nil
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	var err error
	c.mu.Lock()
	_ = f.ForeachSetting(func(st http2.Setting) error {
		switch st.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - c.peerInitWindow
			c.peerInitWindow = int64(st.Val)
			for _, s := range c.streams {
				s.sendWindow += delta
				if s.sendWindow > 1<<31-1 {
					err = &connError{Code: http2.ErrCodeFlowControl, Reason: "stream window overflow"}
				}
				notify(s.windowCh)
			}
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = st.Val
		case http2.SettingMaxConcurrentStreams:
			c.peerMaxStreams = st.Val
		case http2.SettingEnablePush:
			if c.role == roleClient && st.Val != 0 {
				err = &connError{Code: http2.ErrCodeProtocol, Reason: "server enabled push"}
			}
		}
		return nil
	})
	c.mu.Unlock()
	if err != nil {
		return err
	}
	// Header table size changes need the encoder, which wmu guards.
	if v, ok := f.Value(http2.SettingHeaderTableSize); ok {
		c.wmu.Lock()
		c.henc.SetMaxDynamicTableSizeLimit(v)
		c.wmu.Unlock()
	}
	return c.writeSettingsAck()
}

func (c *conn) onPing(f *http2.PingFrame) error {
	if !f.IsAck() {
		return c.writePing(true, f.Data)
	}
	c.mu.Lock()
	c.pingSentAt = time.Time{}
	c.mu.Unlock()
	return nil
}

func (c *conn) onRSTStream(f *http2.RSTStreamFrame) error {
	if c.isIdleStream(f.StreamID) {
		return &connError{Code: http2.ErrCodeProtocol, Reason: "RST_STREAM on idle stream"}
	}
	if s := c.lookup(f.StreamID); s != nil {
		s.peerReset(f.ErrCode)
	}
	return nil
}

// onGoAway stops new streams; on a client, streams the server never saw
// fail with a retryable GoAwayError.
func (c *conn) onGoAway(f *http2.GoAwayFrame) {
	gerr := &GoAwayError{Code: f.ErrCode, LastStreamID: f.LastStreamID}
	c.mu.Lock()
	c.goingAway = true
	var unprocessed []*Stream
	if c.role == roleClient {
		for id, s := range c.streams {
			if id > f.LastStreamID {
				unprocessed = append(unprocessed, s)
			}
		}
	}
	idle := len(c.streams)-len(unprocessed) == 0 && c.reserved == 0
	c.mu.Unlock()
	c.log.Debug("hbone peer sent GOAWAY", "role", c.role, "code", f.ErrCode, "last", f.LastStreamID)
	for _, s := range unprocessed {
		s.connClosed(gerr)
		c.removeStream(s)
	}
	if idle {
		c.closeWithError(gerr)
	}
}
