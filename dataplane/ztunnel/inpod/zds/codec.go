package zds

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"istio.io/istio/pkg/zdsapi"
)

// MaxMessageSize is the largest packet either end accepts: istio's readProto
// and ztunnel's read_message both receive into 1024 bytes.
const MaxMessageSize = 1024

// Decoding is pure (bytes, number of fds, recvmsg flags → message) so the
// rules can be table-tested and fuzzed without sockets.

// DecodeRequest decodes one WorkloadRequest packet that arrived with nfds file
// descriptors and recvmsg flags, applying ztunnel's checks
// (src/inpod/protocol.rs get_workload_data_from_parts): no truncation, a
// payload, exactly one fd on add and none elsewhere, plus a uid where one is
// named.
func DecodeRequest(b []byte, nfds, flags int) (*zdsapi.WorkloadRequest, error) {
	if err := checkFlags(flags); err != nil {
		return nil, err
	}
	req := &zdsapi.WorkloadRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: WorkloadRequest: %v", ErrMalformed, err)
	}
	if err := validateRequest(req, nfds); err != nil {
		return nil, err
	}
	return req, nil
}

func validateRequest(req *zdsapi.WorkloadRequest, nfds int) error {
	kind := KindOf(req)
	switch {
	case kind == KindInvalid:
		return ErrNoPayload
	case kind == KindAdd && nfds == 0:
		return ErrMissingNetns
	case kind == KindAdd && nfds > 1:
		return fmt.Errorf("%w: %d on %s, want 1", ErrUnexpectedFds, nfds, kind)
	case kind != KindAdd && nfds > 0:
		return fmt.Errorf("%w: %d on %s, want 0", ErrUnexpectedFds, nfds, kind)
	case kind != KindSnapshotSent && UID(req) == "":
		return fmt.Errorf("%w (%s)", ErrMissingUID, kind)
	}
	return nil
}

// EncodeRequest encodes req after the same validation the receiver applies
// (with one fd for add), so a sender cannot produce a packet its peer rejects.
func EncodeRequest(req *zdsapi.WorkloadRequest) ([]byte, error) {
	nfds := 0
	if KindOf(req) == KindAdd {
		nfds = 1
	}
	if err := validateRequest(req, nfds); err != nil {
		return nil, err
	}
	return marshal(req)
}

// DecodeResponse decodes one WorkloadResponse packet. Responses never carry
// file descriptors.
func DecodeResponse(b []byte, nfds, flags int) (*zdsapi.WorkloadResponse, error) {
	if err := checkFlags(flags); err != nil {
		return nil, err
	}
	if nfds > 0 {
		return nil, fmt.Errorf("%w: %d on a response", ErrUnexpectedFds, nfds)
	}
	resp := &zdsapi.WorkloadResponse{}
	if err := proto.Unmarshal(b, resp); err != nil {
		return nil, fmt.Errorf("%w: WorkloadResponse: %v", ErrMalformed, err)
	}
	if resp.GetAck() == nil {
		return nil, ErrNoPayload
	}
	return resp, nil
}

// EncodeAck encodes an Ack; a non-empty errText makes it a NACK. Error text
// too long for one packet is cut (at a rune boundary) so the NACK still
// arrives rather than being rejected as truncated.
func EncodeAck(errText string) ([]byte, error) {
	// Framing overhead: payload tag + varint length, ack tag + varint length.
	const overhead = 8
	if len(errText) > MaxMessageSize-overhead {
		cut := MaxMessageSize - overhead
		for cut > 0 && !utf8.RuneStart(errText[cut]) {
			cut--
		}
		errText = errText[:cut]
	}
	return marshal(&zdsapi.WorkloadResponse{Payload: &zdsapi.WorkloadResponse_Ack{Ack: &zdsapi.Ack{Error: errText}}})
}

// DecodeHello decodes ztunnel's first packet and checks its version.
func DecodeHello(b []byte, nfds, flags int) (*zdsapi.ZdsHello, error) {
	if err := checkFlags(flags); err != nil {
		return nil, err
	}
	if nfds > 0 {
		return nil, fmt.Errorf("%w: %d on hello", ErrUnexpectedFds, nfds)
	}
	h := &zdsapi.ZdsHello{}
	if err := proto.Unmarshal(b, h); err != nil {
		return nil, fmt.Errorf("%w: ZdsHello: %v", ErrMalformed, err)
	}
	if h.GetVersion() != zdsapi.Version_V1 {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedVersion, h.GetVersion())
	}
	return h, nil
}

// EncodeHello encodes ZdsHello{version: V1}.
func EncodeHello() ([]byte, error) {
	return marshal(&zdsapi.ZdsHello{Version: zdsapi.Version_V1})
}

func marshal(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("zds: encoding %T: %w", m, err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %T is %d bytes", ErrTooLarge, m, len(b))
	}
	return b, nil
}

func checkFlags(flags int) error {
	switch {
	case flags&unix.MSG_TRUNC != 0:
		return fmt.Errorf("%w (MSG_TRUNC)", ErrTruncated)
	case flags&unix.MSG_CTRUNC != 0:
		return fmt.Errorf("%w (MSG_CTRUNC)", ErrTruncated)
	}
	return nil
}
