package zds

import "errors"

// ErrMalformed: a packet that is not a valid protobuf of the expected type.
var ErrMalformed = errors.New("zds: malformed message")

// Decoding errors. Each one is a protocol violation by the peer; the
// receiving side NACKs (ztunnel) or drops the connection (agent).
var (
	// ErrTruncated: the packet or its ancillary data did not fit the buffer
	// (MSG_TRUNC / MSG_CTRUNC), so its contents cannot be trusted.
	ErrTruncated = errors.New("zds: truncated message")
	// ErrNoPayload: a request or response with no oneof payload set.
	ErrNoPayload = errors.New("zds: message has no payload")
	// ErrMissingNetns: an AddWorkload without its netns fd
	// (ztunnel: "No control message").
	ErrMissingNetns = errors.New("zds: AddWorkload without a netns file descriptor")
	// ErrUnexpectedFds: file descriptors on a message other than AddWorkload,
	// or more than one on an AddWorkload.
	ErrUnexpectedFds = errors.New("zds: unexpected file descriptors")
	// ErrTooLarge: an encoded message exceeds MaxMessageSize, which the peer
	// would reject as truncated.
	ErrTooLarge = errors.New("zds: message larger than MaxMessageSize")
	// ErrUnsupportedVersion: a hello with a version other than V1.
	ErrUnsupportedVersion = errors.New("zds: unsupported protocol version")
	// ErrMissingUID: an add, keep or del request without a workload uid.
	ErrMissingUID = errors.New("zds: request without a workload uid")
)

// IsProtocolError reports whether err is a peer's protocol violation (the
// connection itself is still usable) rather than a transport failure.
func IsProtocolError(err error) bool {
	for _, e := range []error{ErrMalformed, ErrTruncated, ErrNoPayload, ErrMissingNetns,
		ErrUnexpectedFds, ErrTooLarge, ErrUnsupportedVersion, ErrMissingUID} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
