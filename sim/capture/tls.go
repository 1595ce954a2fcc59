package capture

import (
	"fmt"
	"strings"
)

// TLS record framing (RFC 8446 §5.1): content type, legacy version, length.
const (
	tlsChangeCipherSpec = 0x14
	tlsAlert            = 0x15
	tlsHandshake        = 0x16
	tlsApplicationData  = 0x17
	tlsRecordHeader     = 5
	// maxTLSRecord is 2^14 plus the most expansion a protected record may
	// carry (RFC 8446 §5.2 allows 256; TLS 1.2 allows 2048).
	maxTLSRecord = 1<<14 + 2048
)

// TLSVerdict says whether a flow's payload is TLS records.
type TLSVerdict int

const (
	// TLSNoPayload: nothing to judge.
	TLSNoPayload TLSVerdict = iota + 1
	// TLSRecords: both directions, from the first byte, parse as records.
	TLSRecords
	// TLSNotRecords: some payload is not a TLS record stream.
	TLSNotRecords
	// TLSUnknown: the handshake was not captured (a pooled connection
	// opened before the capture), so record boundaries are unknown.
	TLSUnknown
)

func (v TLSVerdict) String() string {
	switch v {
	case TLSNoPayload:
		return "no payload"
	case TLSRecords:
		return "TLS records"
	case TLSNotRecords:
		return "not TLS"
	case TLSUnknown:
		return "unknown (joined mid-stream)"
	}
	return fmt.Sprintf("TLSVerdict(%d)", int(v))
}

// TLS judges a flow: every contiguous run of bytes captured from the start
// of each direction must be a sequence of TLS records (a final record may be
// cut short by the end of the capture). Application data must say 0x0303,
// as TLS 1.2 and 1.3 both do; earlier records may say 0x0301 (a ClientHello's
// legacy record version).
func (f *Flow) TLS() (TLSVerdict, string) {
	if f.ClientBytes+f.ServerBytes == 0 {
		return TLSNoPayload, ""
	}
	if !f.FromStart {
		return TLSUnknown, ""
	}
	for _, dir := range []*stream{&f.toServer, &f.toClient} {
		chunks := dir.reassemble()
		if len(chunks) == 0 {
			continue
		}
		if !chunks[0].fromStart {
			return TLSUnknown, "the first bytes of a direction were not captured"
		}
		if why := walkTLSRecords(chunks[0].data); why != "" {
			return TLSNotRecords, why
		}
	}
	return TLSRecords, ""
}

// walkTLSRecords checks that b is a run of TLS records; "" means it is.
func walkTLSRecords(b []byte) string {
	for off, n := 0, 0; off < len(b); n++ {
		if len(b)-off < tlsRecordHeader {
			return "" // a header cut by the end of the capture
		}
		typ, ver, size := b[off], int(b[off+1])<<8|int(b[off+2]), int(b[off+3])<<8|int(b[off+4])
		switch {
		case typ < tlsChangeCipherSpec || typ > tlsApplicationData:
			return fmt.Sprintf("record %d at byte %d: content type 0x%02x is not TLS (starts %q)", n+1, off, typ, preview(b[off:]))
		case ver < 0x0301 || ver > 0x0303 || (typ == tlsApplicationData && ver != 0x0303):
			return fmt.Sprintf("record %d at byte %d: version 0x%04x is not TLS 1.2/1.3 framing", n+1, off, ver)
		case size == 0 || size > maxTLSRecord:
			return fmt.Sprintf("record %d at byte %d: length %d out of range", n+1, off, size)
		}
		off += tlsRecordHeader + size
	}
	return ""
}

func preview(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

// OnlyTLSOnPort fails when a flow to port carries payload that is not TLS
// records. It returns how many flows it could verify, so a caller can tell
// "all TLS" from "nothing judged" (every flow joined mid-stream).
func OnlyTLSOnPort(flows []*Flow, port uint16) (verified int, err error) {
	var bad []string
	for _, f := range flows {
		if f.Server.Port() != port {
			continue
		}
		switch v, why := f.TLS(); v {
		case TLSRecords:
			verified++
		case TLSNotRecords:
			bad = append(bad, f.String()+": "+why)
		}
	}
	if len(bad) > 0 {
		return verified, fmt.Errorf("%d flow(s) on port %d are not TLS: %s", len(bad), port, strings.Join(bad, "; "))
	}
	return verified, nil
}
