package ztunnel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// AccessLogScope is the scope of access log lines (ztunnel src/telemetry.rs).
const AccessLogScope = "access"

// Access log messages.
const (
	msgConnectionComplete = "connection complete"
	msgConnectionFailed   = "connection failed"
)

// NewAccessLogHandler returns the slog handler for ztunnel's access log:
// with asJSON false, the plain format
//
//	<RFC 3339 UTC time>\t<level>\taccess\t<message>\tk=v k=v ...
//
// where strings are Debug-quoted and addresses and numbers are bare (ztunnel
// README "Logging"); with asJSON true, one JSON object per line with the same
// dotted keys plus level, time, scope and message. now defaults to time.Now.
func NewAccessLogHandler(w io.Writer, asJSON bool, now func() time.Time) slog.Handler {
	if now == nil {
		now = time.Now
	}
	if asJSON {
		return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch {
			case len(groups) > 0:
			case a.Key == slog.MessageKey:
				a.Key = "message"
			case a.Key == slog.LevelKey:
				a.Value = slog.StringValue(levelName(a.Value.Any().(slog.Level)))
			case a.Key == slog.TimeKey:
				a.Value = slog.StringValue(now().UTC().Format(time.RFC3339Nano))
			}
			return a
		}}).WithAttrs([]slog.Attr{slog.String("scope", AccessLogScope)})
	}
	return &plainHandler{w: w, now: now, mu: &sync.Mutex{}}
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// plainHandler writes the Istio plain format. Groups are flattened with
// dots, which is how the dotted keys could also be produced.
type plainHandler struct {
	w     io.Writer
	now   func() time.Time
	mu    *sync.Mutex
	attrs []slog.Attr
}

func (h *plainHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *plainHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *plainHandler) WithGroup(string) slog.Handler { return h }

func (h *plainHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString(h.now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	b.WriteByte('\t')
	b.WriteString(levelName(r.Level))
	b.WriteByte('\t')
	b.WriteString(AccessLogScope)
	b.WriteByte('\t')
	b.WriteString(r.Message)
	sep := byte('\t')
	write := func(a slog.Attr) bool {
		b.WriteByte(sep)
		sep = ' '
		b.WriteString(a.Key)
		b.WriteByte('=')
		writeValue(&b, a.Value.Resolve())
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

// writeValue renders strings as Rust's Debug would ("quoted"), and other
// values (numbers, addresses, booleans) bare.
func writeValue(b *bytes.Buffer, v slog.Value) {
	switch v.Kind() {
	case slog.KindString:
		b.WriteString(strconv.Quote(v.String()))
	case slog.KindInt64:
		b.WriteString(strconv.FormatInt(v.Int64(), 10))
	case slog.KindUint64:
		b.WriteString(strconv.FormatUint(v.Uint64(), 10))
	case slog.KindDuration:
		b.WriteString(strconv.Quote(v.Duration().String()))
	default:
		fmt.Fprint(b, v.Any())
	}
}
