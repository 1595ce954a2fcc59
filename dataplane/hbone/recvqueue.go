package hbone

// recvQueue holds DATA payloads the connection reader has received but the
// stream's consumer has not read yet. Its size is bounded by the stream
// receive window, which the consumer only reopens as it reads.
// Not safe for concurrent use; Stream.mu guards it.
type recvQueue struct {
	chunks [][]byte // pooled buffers; chunks[head][off:] is unread
	head   int      // index of the first unread buffer; reset to 0 when drained
	off    int
	n      int // unread bytes
}

func (q *recvQueue) len() int { return q.n }

// push copies p in, appending to the tail buffer when it has room so that a
// burst of small frames does not hold one pooled buffer per frame.
func (q *recvQueue) push(p []byte) {
	if len(p) == 0 {
		return
	}
	q.n += len(p)
	if k := len(q.chunks); k > q.head {
		tail := q.chunks[k-1]
		if cap(tail)-len(tail) >= len(p) {
			q.chunks[k-1] = append(tail, p...)
			return
		}
	}
	q.chunks = append(q.chunks, append(getBuf(len(p)), p...))
}

// read copies up to len(p) unread bytes into p and releases drained buffers.
func (q *recvQueue) read(p []byte) int {
	n := 0
	for n < len(p) && q.head < len(q.chunks) {
		head := q.chunks[q.head]
		c := copy(p[n:], head[q.off:])
		n += c
		q.off += c
		if q.off == len(head) {
			q.popHead()
		}
	}
	q.n -= n
	return n
}

// take removes the head buffer and hands its ownership to the caller, who
// must putBuf it; unread is its unconsumed part. Taking (rather than peeking)
// lets a concurrent reset never recycle a buffer that is still being written.
func (q *recvQueue) take() (buf, unread []byte) {
	if q.head == len(q.chunks) {
		return nil, nil
	}
	buf = q.chunks[q.head]
	unread = buf[q.off:]
	q.n -= len(unread)
	q.chunks[q.head] = nil
	q.head++
	q.off = 0
	if q.head == len(q.chunks) {
		q.chunks = q.chunks[:0]
		q.head = 0
	}
	return buf, unread
}

func (q *recvQueue) popHead() {
	putBuf(q.chunks[q.head])
	q.chunks[q.head] = nil
	q.head++
	q.off = 0
	if q.head == len(q.chunks) { // drained: reuse the slice from the start
		q.chunks = q.chunks[:0]
		q.head = 0
	}
}

// reset discards everything and reports how many bytes were dropped, so the
// caller can return them to the connection flow-control window.
func (q *recvQueue) reset() int {
	n := q.n
	for q.head < len(q.chunks) {
		q.popHead()
	}
	q.n = 0
	return n
}
