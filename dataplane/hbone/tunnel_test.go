package hbone_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

func TestEchoRoundTripAndHalfClose(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.connect(t)
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte("hbone!"), 50000) // > one frame, > 64 KiB window
	go func() {
		_, _ = s.Write(msg)
		_ = s.CloseWrite() // echo sees EOF, echoes, then half-closes back
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo mismatch: got %d bytes, want %d", len(got), len(msg))
	}
	if got := f.upstream.Load(); got != 1 {
		t.Fatalf("upstream dials = %d, want 1", got)
	}
}

func TestPoolReusesConnection(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for i := 0; i < 3; i++ {
		s := f.connect(t)
		if _, err := s.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1)
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
	if st := f.dialer.Stats(); st.Conns != 1 {
		t.Fatalf("pooled conns = %d, want 1 (stats %+v)", st.Conns, st)
	}
}

func TestStatusTable(t *testing.T) {
	tests := []struct {
		name    string
		handler func(context.Context, *fixture, *hbone.ServerStream)
		want    int
	}{
		{"deny", func(_ context.Context, _ *fixture, ss *hbone.ServerStream) {
			_ = ss.Reject(401, "explicitly denied by: ns1/deny")
		}, http.StatusUnauthorized},
		{"unknown workload", func(_ context.Context, _ *fixture, ss *hbone.ServerStream) { _ = ss.Reject(503, "workload not found") }, http.StatusServiceUnavailable},
		{"no answer", func(context.Context, *fixture, *hbone.ServerStream) {}, http.StatusServiceUnavailable},
		{"upstream refused", nil, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{handler: tt.handler})
			r := f.request()
			if tt.handler == nil {
				addr := f.echo.Addr().AddrPort()
				f.echo.Close()
				r.Authority = addr.String()
			}
			_, err := f.dialer.Connect(context.Background(), r)
			var se *hbone.StatusError
			if !errors.As(err, &se) || se.Code != tt.want {
				t.Fatalf("Connect err = %v, want StatusError %d", err, tt.want)
			}
		})
	}
}

// Many concurrent streams with tiny windows: every byte must cross
// repeated WINDOW_UPDATE cycles at stream and connection level, with the
// reader delivering directly into sinks for some streams and queueing for
// others (Read vs WriteTo consumers).
func TestConcurrentStreamsSmallWindows(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: hbone.Limits{StreamWindow: 65535, ConnWindow: 65535 * 2, MaxFrameSize: 16384}})
	const streams, size = 12, 1 << 20
	errs := make(chan error, streams)
	for i := range streams {
		go func() {
			s, err := f.dialer.Connect(context.Background(), f.request())
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			_ = s.SetDeadline(time.Now().Add(20 * time.Second))
			msg := bytes.Repeat([]byte{byte(i)}, size)
			go func() { _, _ = s.Write(msg); _ = s.CloseWrite() }()
			var got []byte
			if i%2 == 0 {
				got, err = io.ReadAll(s)
			} else {
				var buf bytes.Buffer
				_, err = s.WriteTo(&buf)
				got = buf.Bytes()
			}
			if err == nil && !bytes.Equal(got, msg) {
				err = fmt.Errorf("stream %d: got %d bytes, want %d", i, len(got), size)
			}
			errs <- err
		}()
	}
	for range streams {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
