package rawhttp

import (
	"errors"
	"strconv"
)

// EncodeFields is an HPACK block of literal fields without indexing, new
// names, no Huffman (RFC 7541 §6.2.2): every byte goes out as written.
func EncodeFields(fields []Field) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, 0x00)
		b = appendString(b, f.Name)
		b = appendString(b, f.Value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = appendInt(b, 0x00, 7, uint64(len(s)))
	return append(b, s...)
}

// appendInt is RFC 7541 §5.1 with an n-bit prefix; first holds the bits above it.
func appendInt(b []byte, first byte, n uint, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(limit))
	v -= limit
	for v >= 128 {
		b = append(b, byte(v%128)+128)
		v /= 128
	}
	return append(b, byte(v))
}

func readInt(b []byte, n uint) (v uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, nil, errTruncated
	}
	limit := uint64(1)<<n - 1
	v = uint64(b[0]) & limit
	b = b[1:]
	if v < limit {
		return v, b, nil
	}
	for shift := uint(0); shift < 56; shift += 7 {
		if len(b) == 0 {
			return 0, nil, errTruncated
		}
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, b, nil
		}
	}
	return 0, nil, errors.New("hpack: integer overflow")
}

var (
	errTruncated = errors.New("hpack: truncated block")
	errNoStatus  = errors.New("hpack: first field is not :status")
)

// staticStatus is the HPACK static table's :status entries (RFC 7541 App. A).
var staticStatus = map[uint64]int{8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}

// DecodeStatus reads the :status a response header block starts with (RFC
// 9113 §8.3.2: pseudo-headers come first). It understands the static table,
// literal values and Huffman-coded digits — all an encoder emits for :status
// when the dynamic table is disabled.
func DecodeStatus(b []byte) (int, error) {
	for len(b) > 0 && b[0]&0xe0 == 0x20 { // dynamic table size update
		var err error
		if _, b, err = readInt(b, 5); err != nil {
			return 0, err
		}
	}
	if len(b) == 0 {
		return 0, errTruncated
	}
	var prefix uint
	switch {
	case b[0]&0x80 != 0: // indexed field
		idx, _, err := readInt(b, 7)
		if err != nil {
			return 0, err
		}
		if s, ok := staticStatus[idx]; ok {
			return s, nil
		}
		return 0, errNoStatus
	case b[0]&0xc0 == 0x40: // literal with incremental indexing
		prefix = 6
	default: // literal without indexing / never indexed
		prefix = 4
	}
	idx, b, err := readInt(b, prefix)
	if err != nil {
		return 0, err
	}
	if _, ok := staticStatus[idx]; !ok {
		return 0, errNoStatus
	}
	if len(b) == 0 {
		return 0, errTruncated
	}
	huff := b[0]&0x80 != 0
	n, b, err := readInt(b, 7)
	if err != nil {
		return 0, err
	}
	if uint64(len(b)) < n || n > 8 {
		return 0, errTruncated
	}
	v := string(b[:n])
	if huff {
		if v, err = huffmanDigits(b[:n]); err != nil {
			return 0, err
		}
	}
	s, err := strconv.Atoi(v)
	if err != nil || len(v) != 3 || s < 100 {
		return 0, errors.New("hpack: :status is not a three-digit code 100-999")
	}
	return s, nil
}

// huffmanDigits decodes a Huffman string made only of digits (RFC 7541
// App. B: '0'-'2' are 5-bit codes 0-2, '3'-'9' 6-bit codes 0x19-0x1f),
// followed by at most 7 bits of EOS padding (all ones).
func huffmanDigits(b []byte) (string, error) {
	var out []byte
	var acc uint64
	var bits uint
	for _, c := range b {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			if v := acc >> (bits - 5) & 0x1f; v <= 2 {
				out = append(out, '0'+byte(v))
				bits -= 5
				continue
			}
			if bits < 6 {
				break
			}
			v := acc >> (bits - 6) & 0x3f
			if v < 0x19 || v > 0x1f {
				if bits < 8 && acc&(1<<bits-1) == 1<<bits-1 {
					break // padding
				}
				return "", errors.New("hpack: :status is not Huffman-coded digits")
			}
			out = append(out, '3'+byte(v-0x19))
			bits -= 6
		}
		acc &= 1<<bits - 1
	}
	if bits > 7 || acc != 1<<bits-1 {
		return "", errors.New("hpack: bad Huffman padding")
	}
	return string(out), nil
}
