package transport

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/net/http2"
)

func TestSniffH2(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		h2       bool
		err      bool
	}{
		{"preface", http2.ClientPreface + "\x00\x00", true, false},
		{"http/1.1 shorter than the preface", "GET / HTTP/1.1\r\n\r\n", false, false},
		{"PRI but http/1", "PRI * HTTP/1.1\r\n\r\n", false, false},
		{"preface cut short", http2.ClientPreface[:10], false, true},
		{"empty", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: the decision must not depend on read sizes.
			br := bufio.NewReader(iotest.OneByteReader(strings.NewReader(tc.in)))
			h2, err := sniffH2(br)
			if h2 != tc.h2 || (err != nil) != tc.err {
				t.Fatalf("h2 %v err %v, want %v err=%v", h2, err, tc.h2, tc.err)
			}
			// Nothing is consumed: the server reads the stream from byte 0.
			rest := make([]byte, len(tc.in))
			n, _ := br.Read(rest)
			if len(tc.in) > 0 && !tc.err && rest[0] != tc.in[0] && n > 0 {
				t.Fatalf("sniffing consumed input: next byte %q", rest[0])
			}
		})
	}
}

func FuzzSniffH2(f *testing.F) {
	f.Add([]byte(http2.ClientPreface))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		h2, err := sniffH2(br)
		want := bytes.HasPrefix(in, []byte(http2.ClientPreface))
		if h2 != want {
			t.Fatalf("sniffH2(%q) = %v, want %v", in, h2, want)
		}
		if err == nil && !h2 && bytes.HasPrefix([]byte(http2.ClientPreface), in) {
			t.Fatalf("a proper prefix of the preface %q was decided without more input", in)
		}
		all := make([]byte, len(in)+1)
		n, _ := br.Read(all)
		if len(in) > 0 && (n == 0 || all[0] != in[0]) {
			t.Fatalf("sniffing consumed input")
		}
	})
}
