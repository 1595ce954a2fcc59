package rawhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// Result is what the server did with one raw exchange.
type Result struct {
	// Statuses holds one status per response read, in order.
	Statuses []int `json:"statuses"`
	// Refusal says how the server refused without (more) responses:
	// "" (all expected responses arrived), "rst_stream:PROTOCOL_ERROR",
	// "goaway:PROTOCOL_ERROR", "closed" (EOF or reset before a response).
	Refusal string `json:"refusal,omitempty"`
	// Detail is the read error behind a "closed" refusal (EOF, reset), for logs.
	Detail string `json:"detail,omitempty"`
	// Body is the first response's body, bounded.
	Body string `json:"body,omitempty"`
	// Error is a local failure (dial, write), not a server refusal.
	Error string `json:"error,omitempty"`
}

// MaxBody bounds the body kept in a Result.
const MaxBody = 4 << 10

// DoH1 writes raw on c and reads up to n HTTP/1.x responses. A connection the
// server closes before n responses is reported as Refusal "closed".
func DoH1(ctx context.Context, c net.Conn, raw []byte, n int) Result {
	stop := deadline(ctx, c)
	defer stop()
	var res Result
	if _, err := c.Write(raw); err != nil && !isClosed(err) {
		res.Error = "write: " + err.Error()
		return res
	}
	br := bufio.NewReader(c)
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			res.Refusal, res.Detail = "closed", err.Error()
			return res
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if len(res.Statuses) == 0 {
			res.Body = string(b)
		}
		res.Statuses = append(res.Statuses, resp.StatusCode)
	}
	return res
}

// deadline applies ctx's deadline (or 10 s) to c and closes c when ctx ends.
func deadline(ctx context.Context, c net.Conn) (stop func()) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	_ = c.SetDeadline(dl)
	stopClose := context.AfterFunc(ctx, func() { _ = c.Close() })
	return func() { stopClose() }
}

// isClosed: the server may refuse and close while we are still writing (a
// 431 for oversized headers); what it answered is still readable.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || isConnReset(err)
}
