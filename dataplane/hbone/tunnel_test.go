package hbone_test

import (
	"bytes"
	"context"
	"errors"
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
