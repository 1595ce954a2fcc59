package zds

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzZDSMessage feeds arbitrary packets (with an arbitrary fd count and
// recvmsg flags) to the request decoder: it must never panic, and anything it
// accepts must survive an encode/decode round trip unchanged.
func FuzzZDSMessage(f *testing.F) {
	for _, req := range []struct {
		b    []byte
		nfds uint8
	}{
		{mustEncode(f, Add("uid-1", info)), 1},
		{mustEncode(f, Keep("uid-2")), 0},
		{mustEncode(f, Del("uid-3")), 0},
		{mustEncode(f, SnapshotSent()), 0},
		{[]byte{0x0a, 0x00}, 1},
		{nil, 0},
	} {
		f.Add(req.b, req.nfds, 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, nfds uint8, flags int) {
		req, err := DecodeRequest(b, int(nfds), flags)
		if err != nil {
			return
		}
		if KindOf(req) == KindInvalid {
			t.Fatalf("accepted a request without payload: %v", req)
		}
		again, err := EncodeRequest(req)
		if err != nil {
			if len(b) <= MaxMessageSize {
				// A decodable packet within the size limit must re-encode.
				t.Fatalf("re-encoding %v: %v", req, err)
			}
			return
		}
		back, err := DecodeRequest(again, int(nfds), 0)
		if err != nil || !proto.Equal(back, req) {
			t.Fatalf("round trip changed %v into %v (%v)", req, back, err)
		}
	})
}

func mustEncode(f *testing.F, req proto.Message) []byte {
	b, err := proto.Marshal(req)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
