package rawhttp

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// Every status an HPACK encoder (x/net's, which Go's h2 server uses) can emit
// decodes to itself, with the dynamic table disabled as DoH2 requests.
func TestDecodeStatusMatchesEncoder(t *testing.T) {
	for s := 100; s <= 999; s++ {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(0)
		v := itoa3(s)
		if err := enc.WriteField(hpack.HeaderField{Name: ":status", Value: v}); err != nil {
			t.Fatal(err)
		}
		_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "text/plain"})
		got, err := DecodeStatus(buf.Bytes())
		if err != nil || got != s {
			t.Fatalf("status %d: got %d, %v (block %x)", s, got, err, buf.Bytes())
		}
	}
}

func TestDecodeStatusRejects(t *testing.T) {
	for _, b := range [][]byte{nil, {0x82}, {0x0f}, {0x08, 0x02, '2', '0'}, {0x08, 0x83, 0xff, 0xff, 0xff}, {0x48, 0x03, 'a', 'b', 'c'}} {
		if s, err := DecodeStatus(b); err == nil {
			t.Errorf("%x decoded as %d", b, s)
		}
	}
}

// EncodeFields is valid HPACK that carries bytes a real encoder would refuse.
func TestEncodeFieldsRoundTrip(t *testing.T) {
	fields := []Field{{":method", "GET"}, {"X-Upper", "a\r\nb\x00"}, {"long", string(bytes.Repeat([]byte{'v'}, 300))}}
	var got []Field
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) { got = append(got, Field{f.Name, f.Value}) })
	if _, err := dec.Write(EncodeFields(fields)); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fields) {
		t.Fatalf("got %v", got)
	}
	for i := range got {
		if got[i] != fields[i] {
			t.Errorf("field %d: %q", i, got[i])
		}
	}
}

func itoa3(s int) string {
	return string([]byte{byte('0' + s/100), byte('0' + s/10%10), byte('0' + s%10)})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add([]byte{0x88})
	f.Add([]byte{0x08, 0x82, 0x64, 0x1f})
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x48, 0x03, '4', '0', '3'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeStatus(b)
		if err == nil && (s < 100 || s > 999) {
			t.Fatalf("status %d from %x", s, b)
		}
	})
}
