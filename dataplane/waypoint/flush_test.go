package waypoint

import (
	"errors"
	"io"
	"net/http"
	"testing"
)

func TestNeedsFlush(t *testing.T) {
	broken := errors.New("upstream reset")
	for _, tc := range []struct {
		name          string
		contentLength int64
		written       int64
		readErr       error
		want          bool
	}{
		{"known length complete", 10, 10, nil, false},
		{"known length complete with EOF", 10, 10, io.EOF, false},
		{"known length partial: more is coming", 10, 4, nil, true},
		{"unknown length (chunked, SSE, gRPC): every chunk", -1, 4, nil, true},
		{"unknown length last chunk with EOF", -1, 4, io.EOF, false},
		{"upstream broke: deliver what arrived", 10, 4, broken, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := needsFlush(&http.Response{ContentLength: tc.contentLength}, tc.written, tc.readErr)
			if got != tc.want {
				t.Errorf("needsFlush(length %d, written %d, %v) = %v, want %v", tc.contentLength, tc.written, tc.readErr, got, tc.want)
			}
		})
	}
}
