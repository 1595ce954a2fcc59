package hbone

import (
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/net/http2"
)

// StatusError is returned by Dialer.Connect when the peer answers the
// CONNECT with a non-200 status (400 bad request, 401 denied, 503 ...).
type StatusError struct {
	Code   int
	Reason string // http.StatusText(Code); peers do not send reasons on the wire
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("hbone: CONNECT refused: %d %s", e.Code, e.Reason)
}

func newStatusError(code int) *StatusError {
	return &StatusError{Code: code, Reason: http.StatusText(code)}
}

// StreamResetError reports an RST_STREAM, sent by the peer or by us.
type StreamResetError struct {
	Code   http2.ErrCode
	Remote bool // true when the peer sent the reset
}

func (e *StreamResetError) Error() string {
	side := "local"
	if e.Remote {
		side = "peer"
	}
	return fmt.Sprintf("hbone: stream reset by %s: %v", side, e.Code)
}

// GoAwayError reports that the peer sent GOAWAY; streams above LastStreamID
// were not processed and may be retried on another connection.
type GoAwayError struct {
	Code         http2.ErrCode
	LastStreamID uint32
}

func (e *GoAwayError) Error() string {
	return fmt.Sprintf("hbone: peer sent GOAWAY %v (last stream %d)", e.Code, e.LastStreamID)
}

// Sentinel errors for control flow.
var (
	// ErrALPN: the TLS peer did not negotiate "h2".
	ErrALPN = errors.New("hbone: peer did not negotiate ALPN h2")
	// ErrTLSVersion: the TLS peer negotiated something other than TLS 1.3.
	ErrTLSVersion = errors.New("hbone: TLS 1.3 required")
	// ErrConnClosed: the HTTP/2 connection is closed.
	ErrConnClosed = errors.New("hbone: connection closed")
	// ErrPingTimeout: a PING or a frame write did not complete in PingTimeout.
	ErrPingTimeout = errors.New("hbone: ping or write timeout, peer unresponsive")
	// ErrWriteClosed: Write after CloseWrite.
	ErrWriteClosed = errors.New("hbone: write after CloseWrite")
	// ErrReadClosed: Read after CloseRead.
	ErrReadClosed = errors.New("hbone: read after CloseRead")
	// ErrAlreadyResponded: Accept or Reject called twice.
	ErrAlreadyResponded = errors.New("hbone: stream already responded")
	// ErrDialerClosed: Connect after Dialer.Close.
	ErrDialerClosed = errors.New("hbone: dialer closed")
	// ErrFlood: the peer exceeded MaxControlFramesPerSecond.
	ErrFlood = errors.New("hbone: control frame flood")
)

// timeoutError is returned when a stream deadline passes; it satisfies
// net.Error and os.ErrDeadlineExceeded semantics.
type timeoutError struct{}

func (timeoutError) Error() string   { return "hbone: i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == errDeadlineExceeded
}
