package hbone

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// seedFrames encodes a plausible client session to start the fuzzer from.
func seedFrames(t testing.TB) [][]byte {
	var seeds [][]byte
	enc := func(write func(fr *http2.Framer, hb []byte)) []byte {
		var out, hbuf bytes.Buffer
		fr := http2.NewFramer(&out, nil)
		he := hpack.NewEncoder(&hbuf)
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "CONNECT"}, {Name: ":authority", Value: "127.0.0.1:80"}} {
			_ = he.WriteField(f)
		}
		write(fr, hbuf.Bytes())
		return out.Bytes()
	}
	seeds = append(seeds,
		enc(func(fr *http2.Framer, hb []byte) {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb, EndHeaders: true})
			_ = fr.WriteData(1, false, []byte("early"))
			_ = fr.WriteData(1, true, nil)
		}),
		enc(func(fr *http2.Framer, hb []byte) {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb[:2], EndHeaders: false})
			_ = fr.WriteContinuation(1, true, hb[2:])
			_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
			_ = fr.WritePing(false, [8]byte{1})
			_ = fr.WriteWindowUpdate(0, 1<<30)
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
			_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}),
		enc(func(fr *http2.Framer, hb []byte) {
			_ = fr.WriteData(3, false, []byte("idle"))
			_ = fr.WritePriority(5, http2.PriorityParam{StreamDep: 5})
			_ = fr.WriteRawFrame(0xfa, 0, 0, []byte("unknown"))
		}),
	)
	return seeds
}

// FuzzServerFrames feeds arbitrary bytes after a valid preface and SETTINGS
// into the server: it must neither panic nor hang.
func FuzzServerFrames(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := &Server{
			Handler: func(ctx context.Context, ss *ServerStream) {
				if ss.Authority().Port%2 == 0 {
					if s, err := ss.Accept(); err == nil {
						_, _ = io.Copy(io.Discard, s)
					}
					return
				}
				_ = ss.Reject(503, "fuzz")
			},
			Authority: AuthorityAny,
			Limits:    Limits{HandshakeTimeout: time.Second, PingInterval: 50 * time.Millisecond, PingTimeout: 200 * time.Millisecond},
		}
		if err := srv.init(); err != nil {
			t.Fatal(err)
		}
		cli, sc := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.serveH2(context.Background(), sc, tls.ConnectionState{}, time.Now().Add(time.Second))
		}()
		drained := make(chan struct{})
		go func() { defer close(drained); _, _ = io.Copy(io.Discard, cli) }()
		var hello bytes.Buffer
		hello.WriteString(http2.ClientPreface)
		_ = http2.NewFramer(&hello, nil).WriteSettings()
		_ = cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = cli.Write(hello.Bytes())
		_, _ = cli.Write(data)
		_ = cli.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("server did not return after the client closed")
		}
		<-drained
	})
}
