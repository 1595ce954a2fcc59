package ztunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 22, 4, 5, 6, 789000000, time.FixedZone("x", 3600)) }

func logSample(h slog.Handler) {
	slog.New(h).LogAttrs(context.Background(), slog.LevelError, msgConnectionComplete,
		slog.Any("src.addr", netip.MustParseAddrPort("10.0.0.1:4242")),
		slog.String("src.identity", `spiffe://cluster.local/ns/a/sa/"q"`),
		slog.String("direction", "inbound"), slog.Int64("bytes_sent", 12), slog.String("error", "boom"))
}

// TestAccessLogPlainFormat pins the plain line: RFC 3339 UTC time, level,
// scope, message, then k=v with Debug-quoted strings and bare addresses
// and numbers (ambient-semantics.md §13).
func TestAccessLogPlainFormat(t *testing.T) {
	var b bytes.Buffer
	logSample(NewAccessLogHandler(&b, false, fixedNow))
	want := "2026-11-22T03:05:06.789000Z\terror\taccess\tconnection complete\t" +
		`src.addr=10.0.0.1:4242 src.identity="spiffe://cluster.local/ns/a/sa/\"q\"" direction="inbound" bytes_sent=12 error="boom"` + "\n"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
}

// TestAccessLogJSONKeepsKeys: LOG_FORMAT=json has the same dotted keys plus
// level, time, scope and message.
func TestAccessLogJSONKeepsKeys(t *testing.T) {
	var b bytes.Buffer
	logSample(NewAccessLogHandler(&b, true, fixedNow))
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	want := map[string]any{"level": "error", "time": "2026-11-22T03:05:06.789Z", "scope": "access",
		"message": "connection complete", "src.addr": "10.0.0.1:4242", "direction": "inbound", "bytes_sent": 12.0, "error": "boom"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["msg"]; ok || !strings.Contains(b.String(), `"src.identity"`) {
		t.Errorf("unexpected JSON shape: %s", b.String())
	}
}
