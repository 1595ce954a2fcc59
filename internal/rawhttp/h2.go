package rawhttp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Field is one HTTP/2 header field, pseudo-headers included, sent as written
// (no lower-casing, no validation).
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// H2Request is one HTTP/2 request on stream 1 of a fresh prior-knowledge
// (h2c) connection: one HEADERS frame carrying Fields, then one DATA frame per
// Data element; END_STREAM is on the last frame sent.
type H2Request struct {
	Fields []Field  `json:"fields"`
	Data   []string `json:"data,omitempty"`
}

const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	// maxFrame is the default SETTINGS_MAX_FRAME_SIZE; we never send more.
	maxFrame = 16384
)

// ClientPreface starts every HTTP/2 connection (RFC 9113 §3.4).
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

var errorCodes = []string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
	"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}

func errorCodeName(c uint32) string {
	if int(c) < len(errorCodes) {
		return errorCodes[c]
	}
	return fmt.Sprintf("0x%x", c)
}

// DoH2 sends req on stream 1 of c (a fresh connection) and reads until the
// stream ends: with a response (Statuses has one status, 1xx skipped), a
// RST_STREAM or GOAWAY (Refusal names it), or the connection closing.
func DoH2(ctx context.Context, c net.Conn, req H2Request) Result {
	stop := deadline(ctx, c)
	defer stop()
	var res Result
	block := EncodeFields(req.Fields)
	if len(block) > maxFrame {
		res.Error = fmt.Sprintf("header block of %d bytes needs CONTINUATION, not supported", len(block))
		return res
	}
	out := []byte(ClientPreface)
	// SETTINGS_HEADER_TABLE_SIZE 0: the server's encoder keeps no dynamic
	// table, so the :status decoder needs only the static table.
	out = appendFrame(out, frameSettings, 0, 0, []byte{0, 1, 0, 0, 0, 0})
	headerFlags := byte(flagEndHeaders)
	if len(req.Data) == 0 {
		headerFlags |= flagEndStream
	}
	out = appendFrame(out, frameHeaders, headerFlags, 1, block)
	for i, d := range req.Data {
		var f byte
		if i == len(req.Data)-1 {
			f = flagEndStream
		}
		out = appendFrame(out, frameData, f, 1, []byte(d))
	}
	if _, err := c.Write(out); err != nil && !isClosed(err) {
		res.Error = "write: " + err.Error()
		return res
	}
	readH2Response(bufio.NewReader(c), c, &res)
	return res
}

func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream&0x7fffffff)
	return append(b, payload...)
}

type frame struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

func readFrame(r io.Reader) (frame, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if n > 1<<20 {
		return frame{}, fmt.Errorf("frame of %d bytes", n)
	}
	f := frame{typ: h[3], flags: h[4], stream: binary.BigEndian.Uint32(h[5:]) & 0x7fffffff, payload: make([]byte, n)}
	_, err := io.ReadFull(r, f.payload)
	return f, err
}

// readH2Response follows stream 1 to its end.
func readH2Response(r io.Reader, w io.Writer, res *Result) {
	var block []byte
	inHeaders := false
	for {
		f, err := readFrame(r)
		if err != nil {
			if len(res.Statuses) == 0 {
				res.Refusal, res.Detail = "closed", err.Error()
			}
			return
		}
		switch {
		case f.typ == frameSettings && f.flags&flagAck == 0:
			_, _ = w.Write(appendFrame(nil, frameSettings, flagAck, 0, nil))
		case f.typ == framePing && f.flags&flagAck == 0:
			_, _ = w.Write(appendFrame(nil, framePing, flagAck, 0, f.payload))
		case f.typ == frameGoAway && len(f.payload) >= 8:
			last := binary.BigEndian.Uint32(f.payload) & 0x7fffffff
			code := binary.BigEndian.Uint32(f.payload[4:])
			if last < 1 || code != 0 {
				if len(res.Statuses) == 0 {
					res.Refusal = "goaway:" + errorCodeName(code)
				}
				return
			}
		case f.stream != 1:
		case f.typ == frameRSTStream && len(f.payload) == 4:
			if len(res.Statuses) == 0 {
				res.Refusal = "rst_stream:" + errorCodeName(binary.BigEndian.Uint32(f.payload))
			}
			return
		case f.typ == frameHeaders || f.typ == frameContinuation && inHeaders:
			p, err := headerPayload(f)
			if err != nil {
				res.Error = err.Error()
				return
			}
			block = append(block, p...)
			inHeaders = f.flags&flagEndHeaders == 0
			if inHeaders {
				continue
			}
			status, err := DecodeStatus(block)
			block = nil
			if err != nil {
				res.Error = "response headers: " + err.Error()
				return
			}
			if status >= 200 && len(res.Statuses) == 0 {
				res.Statuses = append(res.Statuses, status)
			}
			if f.flags&flagEndStream != 0 {
				return
			}
		case f.typ == frameData:
			p, err := dataPayload(f)
			if err != nil {
				res.Error = err.Error()
				return
			}
			if room := MaxBody - len(res.Body); room > 0 {
				res.Body += string(p[:min(room, len(p))])
			}
			if f.flags&flagEndStream != 0 {
				return
			}
		}
	}
}

var errPadding = errors.New("http2: bad padding")

func dataPayload(f frame) ([]byte, error) {
	p := f.payload
	if f.flags&flagPadded != 0 {
		if len(p) < 1 || int(p[0]) > len(p)-1 {
			return nil, errPadding
		}
		p = p[1 : len(p)-int(p[0])]
	}
	return p, nil
}

func headerPayload(f frame) ([]byte, error) {
	if f.typ == frameContinuation {
		return f.payload, nil
	}
	p, err := dataPayload(f)
	if err != nil {
		return nil, err
	}
	if f.flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, errPadding
		}
		p = p[5:]
	}
	return p, nil
}
