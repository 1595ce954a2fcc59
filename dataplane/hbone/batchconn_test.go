package hbone

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// countingConn records every Write that reaches the transport.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

// Held writes leave as one transport write in order; outside a batch
// writes pass straight through; the pooled buffer is released after the
// batch, growth past the hint keeps the bytes, and passing batchMax forces
// a write instead of allocating.
func TestBatchConnCoalescesAndReleases(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hint       int
		records    []int
		wantWrites int
	}{
		{"one small record", 100, []int{100}, 1},
		{"grows past the hint", 10, []int{4 << 10, 16 << 10, 16 << 10, 200 << 10}, 1},
		{"forced write at batchMax", 1 << 20, []int{600 << 10, 600 << 10}, 2},
		{"no hint", 0, []int{16 << 10, 16 << 10}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := &countingConn{}
			b := &batchConn{Conn: cc}
			if _, err := b.Write([]byte("before")); err != nil {
				t.Fatal(err)
			}
			b.beginBatch(tc.hint)
			var want bytes.Buffer
			for i, n := range tc.records {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				want.Write(p)
				if w, err := b.Write(p); w != n || err != nil {
					t.Fatalf("held Write = %d, %v; want %d, nil", w, err, n)
				}
			}
			if err := b.endBatch(); err != nil {
				t.Fatal(err)
			}
			if b.buf != nil {
				t.Fatalf("batch buffer still held after endBatch (cap %d)", cap(b.buf))
			}
			if len(cc.writes) != 1+tc.wantWrites {
				t.Fatalf("transport writes = %d, want 1 pass-through + %d", len(cc.writes), tc.wantWrites)
			}
			if string(cc.writes[0]) != "before" {
				t.Fatalf("pass-through write = %q", cc.writes[0])
			}
			if got := bytes.Join(cc.writes[1:], nil); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("batched bytes differ: got %d, want %d", len(got), want.Len())
			}
		})
	}
}

// A DATA frame written without the Framer is one the Framer reads back
// unchanged: length, END_STREAM, stream ID and payload, across the bufio
// bypass for payloads larger than its free space.
func TestWriteDataFrameParses(t *testing.T) {
	for _, tc := range []struct {
		id   uint32
		size int
		end  bool
	}{
		{1, 0, true}, {3, 1024, false}, {1<<31 - 1, 64 << 10, false}, {5, 200 << 10, true},
	} {
		var out bytes.Buffer
		c := &conn{bw: bufio.NewWriterSize(&out, 64<<10)}
		if _, err := c.bw.WriteString("queued"); err != nil { // a control frame already buffered
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte{0x5a}, tc.size)
		if err := c.writeDataFrameLocked(tc.id, tc.end, payload); err != nil {
			t.Fatal(err)
		}
		if err := c.bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := string(out.Next(len("queued"))); got != "queued" {
			t.Fatalf("bytes queued before the frame = %q", got)
		}
		fr := http2.NewFramer(io.Discard, &out)
		fr.SetMaxReadFrameSize(1 << 20)
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("id %d size %d: ReadFrame: %v", tc.id, tc.size, err)
		}
		df, ok := f.(*http2.DataFrame)
		if !ok || df.StreamID != tc.id || df.StreamEnded() != tc.end || !bytes.Equal(df.Data(), payload) {
			t.Fatalf("id %d size %d end %v: read %v", tc.id, tc.size, tc.end, f)
		}
		if out.Len() != 0 {
			t.Fatalf("%d bytes left after the frame", out.Len())
		}
	}
}

// scriptedConn returns its reads in order: each is the bytes one read(2)
// would return and the error that comes with them; then io.EOF.
type scriptedConn struct {
	net.Conn
	reads []scriptedRead
	lens  []int // len(p) of every Read the transport saw
}

type scriptedRead struct {
	data []byte
	err  error
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	c.lens = append(c.lens, len(p))
	if len(c.reads) == 0 {
		return 0, io.EOF
	}
	r := c.reads[0]
	n := copy(p, r.data)
	if n < len(r.data) {
		c.reads[0].data = r.data[n:]
		return n, nil
	}
	c.reads = c.reads[1:]
	return n, r.err
}

// The read-ahead hands tls.Conn-sized reads out of one big transport read,
// in order and without loss; an error that came with read-ahead bytes is
// returned only after them; a large caller buffer reads the transport
// directly; and the buffer goes back once drained.
func TestBatchConnReadAhead(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10/16*10) // 200 KiB
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		reads     []scriptedRead
		callerBuf int
		want      []byte
		wantErr   error
		// wantTransport is how many transport reads it takes (the final
		// EOF one included).
		wantTransport int
	}{
		{"bulk served from one read", []scriptedRead{{data: big}}, 32 << 10, big, io.EOF, 2},
		{"small message passes through", []scriptedRead{{data: []byte("ping")}}, 32 << 10, []byte("ping"), io.EOF, 2},
		{"error after the bytes", []scriptedRead{{data: big, err: boom}}, 32 << 10, big, boom, 1},
		{"large caller buffer reads directly", []scriptedRead{{data: big}}, readAheadSize, big, io.EOF, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &scriptedConn{reads: tc.reads}
			bc := newBatchConn(sc)
			var got []byte
			var err error
			p := make([]byte, tc.callerBuf)
			for {
				var n int
				n, err = bc.Read(p)
				got = append(got, p[:n]...)
				if err != nil {
					break
				}
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, want %d (or different content)", len(got), len(tc.want))
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(sc.lens) != tc.wantTransport {
				t.Fatalf("transport reads %v, want %d of them", sc.lens, tc.wantTransport)
			}
			if bc.ahead != nil {
				t.Fatalf("read-ahead buffer still held after draining")
			}
		})
	}
}
