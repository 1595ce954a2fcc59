package zds

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"istio.io/istio/pkg/zdsapi"
)

var info = &zdsapi.WorkloadInfo{Name: "echo-0", Namespace: "ns1", ServiceAccount: "echo"}

func TestRequestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		req  *zdsapi.WorkloadRequest
		kind Kind
		nfds int
	}{
		{Add("uid-1", info), KindAdd, 1},
		{Add("uid-2", nil), KindAdd, 1},
		{Keep("uid-3"), KindKeep, 0},
		{Del("uid-4"), KindDel, 0},
		{SnapshotSent(), KindSnapshotSent, 0},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			b, err := EncodeRequest(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRequest(b, tc.nfds, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.req) || KindOf(got) != tc.kind {
				t.Errorf("round trip: got %v (%s), want %v (%s)", got, KindOf(got), tc.req, tc.kind)
			}
		})
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	enc := func(req *zdsapi.WorkloadRequest) []byte {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		nfds  int
		flags int
		want  error
	}{
		{"empty message", nil, 0, 0, ErrNoPayload},
		{"add without fd", enc(Add("u", info)), 0, 0, ErrMissingNetns},
		{"add with two fds", enc(Add("u", info)), 2, 0, ErrUnexpectedFds},
		{"del with fd", enc(Del("u")), 1, 0, ErrUnexpectedFds},
		{"snapshot with fd", enc(SnapshotSent()), 1, 0, ErrUnexpectedFds},
		{"add without uid", enc(Add("", info)), 1, 0, ErrMissingUID},
		{"del without uid", enc(Del("")), 0, 0, ErrMissingUID},
		{"truncated", enc(Del("u")), 0, unix.MSG_TRUNC, ErrTruncated},
		{"control truncated", enc(Add("u", info)), 1, unix.MSG_CTRUNC, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeRequest(tc.b, tc.nfds, tc.flags); !errors.Is(err, tc.want) {
				t.Errorf("DecodeRequest: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := DecodeRequest([]byte{0xff, 0xff}, 0, 0); !errors.Is(err, ErrMalformed) || !IsProtocolError(err) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	if IsProtocolError(io.EOF) {
		t.Error("EOF classified as a protocol error")
	}
}

func TestEncodeRequestRejectsWhatThePeerWould(t *testing.T) {
	if _, err := EncodeRequest(&zdsapi.WorkloadRequest{}); !errors.Is(err, ErrNoPayload) {
		t.Errorf("empty: %v", err)
	}
	long := &zdsapi.WorkloadInfo{Name: strings.Repeat("n", MaxMessageSize)}
	if _, err := EncodeRequest(Add("u", long)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
}

func TestAckRoundTrip(t *testing.T) {
	long := strings.Repeat("é", MaxMessageSize) // 2 bytes a rune: the cut must land on a boundary
	for _, text := range []string{"", "netns fd is not a network namespace", long} {
		b, err := EncodeAck(text)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > MaxMessageSize {
			t.Fatalf("ack of %d bytes", len(b))
		}
		resp, err := DecodeResponse(b, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.GetAck().GetError()
		if !strings.HasPrefix(text, got) || !utf8.ValidString(got) || (len(text) < 100 && got != text) {
			t.Errorf("ack error %q (len %d) from %d bytes", got[:min(len(got), 20)], len(got), len(text))
		}
	}
	if _, err := DecodeResponse(nil, 0, 0); !errors.Is(err, ErrNoPayload) {
		t.Errorf("empty response: %v", err)
	}
	if _, err := DecodeResponse([]byte{0x0a, 0x00}, 1, 0); !errors.Is(err, ErrUnexpectedFds) {
		t.Errorf("response with fd: %v", err)
	}
}

func TestHello(t *testing.T) {
	b, err := EncodeHello()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeHello(b, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeHello(nil, 0, 0); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version NOT_USED: %v", err)
	}
}

func TestKindNames(t *testing.T) {
	for k := KindAdd; k <= KindSnapshotSent; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("invalid"); err == nil {
		t.Error("ParseKind accepted invalid")
	}
	if s := Kind(42).String(); s != "Kind(42)" {
		t.Errorf("Kind(42) = %q", s)
	}
}
