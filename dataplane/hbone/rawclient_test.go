package hbone_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

// rawClient speaks HTTP/2 frame by frame to a fixture server, so tests can
// send what a well-behaved client never would.
type rawClient struct {
	t    testing.TB
	conn *tls.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	henc *hpack.Encoder
}

func dialRaw(t testing.TB, f *fixture) *rawClient {
	t.Helper()
	cfg := hbone.EnforceTLS(f.ca.ClientConfig(f.cliCert, f.srvID))
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", f.addr.String(), cfg)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	r := &rawClient{t: t, conn: c}
	r.henc = hpack.NewEncoder(&r.hbuf)
	r.fr = http2.NewFramer(c, c)
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.fr.SetMaxReadFrameSize(1 << 20)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return r
}

// block HPACK-encodes name/value pairs.
func (r *rawClient) block(kv ...string) []byte {
	r.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = r.henc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), r.hbuf.Bytes()...)
}

func (r *rawClient) headers(id uint32, end bool, kv ...string) {
	r.t.Helper()
	err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(kv...), EndHeaders: true, EndStream: end})
	if err != nil {
		r.t.Fatalf("write headers: %v", err)
	}
}

func (r *rawClient) connect(id uint32, authority string) {
	r.headers(id, false, ":method", "CONNECT", ":authority", authority)
}

// tryConnect is connect for use off the test goroutine.
func (r *rawClient) tryConnect(id uint32, authority string) error {
	return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true,
		BlockFragment: r.block(":method", "CONNECT", ":authority", authority)})
}

// outcome is what the server did with one stream.
type outcome struct {
	status int           // response :status, 0 if none
	rst    http2.ErrCode // RST_STREAM code if reset
	reset  bool
	goaway *http2.GoAwayFrame
	closed bool // connection ended (EOF or error) before an answer
}

// await reads frames until stream id is answered (status or reset), the
// server sends GOAWAY, or the connection closes.
func (r *rawClient) await(id uint32) outcome {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = r.conn.SetReadDeadline(time.Time{}) }()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatalf("stream %d: no answer within 5s", id)
			}
			return outcome{closed: true}
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return outcome{status: atoi(f.PseudoValue("status"))}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return outcome{reset: true, rst: f.ErrCode}
			}
		case *http2.GoAwayFrame:
			return outcome{goaway: f}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = r.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = r.fr.WritePing(true, f.Data)
			}
		}
	}
}

// awaitClose reads until the server closes the connection, failing the
// test if it is still open after 5s (a deadline that never fired).
func (r *rawClient) awaitClose() (goaway *http2.GoAwayFrame) {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatal("server did not close the connection within 5s")
			}
			return goaway
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			goaway = g
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func tlsClient(f *fixture, c net.Conn) *tls.Conn {
	return tls.Client(c, hbone.EnforceTLS(f.ca.ClientConfig(f.cliCert, f.srvID)))
}
