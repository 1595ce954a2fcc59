package hbone

import (
	"io"
	"net"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
)

// Delivery of received DATA to the stream's consumer. Two paths:
//
//	queued:  runReader ──push──▶ recvQueue ──wake──▶ Read/WriteTo goroutine ──▶ app
//	direct:  runReader ──TryWrite──────────────────────────────────────────▶ TCP sink
//
// The direct path is taken only while WriteTo is parked on an empty queue
// with a *net.TCPConn sink, and only for what the kernel accepts without
// blocking, so one slow consumer never stalls the connection reader.
// sinkBusy serializes the two writers, and the queue is always drained
// before a direct write, so bytes stay in order.

// WriteTo drains the stream into w until END_STREAM. When w is a
// *net.TCPConn, the connection reader may deliver straight into it (see
// deliverLocked); otherwise, and for whatever could not be written without
// blocking, this goroutine writes from the queue.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if tc, ok := w.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			s.mu.Lock()
			s.sink = sockets.NewTryWriter(rc)
			s.mu.Unlock()
		}
		if rio, err := sockets.NewRawIO(tc); err == nil {
			w = rio // queued chunks: raw writes too (sockets.RawIO)
		}
	}
	defer func() {
		s.mu.Lock()
		s.sink = nil
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		total += s.direct
		s.direct = 0
		if s.sinkErr != nil {
			err := s.sinkErr
			s.mu.Unlock()
			return total, err
		}
		if s.readClosed {
			s.mu.Unlock()
			return total, ErrReadClosed
		}
		if !s.sinkBusy {
			if buf, chunk := s.recv.take(); buf != nil {
				s.sinkBusy = true
				s.mu.Unlock()
				n, werr := w.Write(chunk)
				putBuf(buf)
				s.mu.Lock()
				s.sinkBusy = false
				streamInc := s.consumedLocked(len(chunk))
				s.mu.Unlock()
				s.sendCredit(streamInc, len(chunk))
				total += int64(n)
				if werr != nil {
					return total, werr
				}
				continue
			}
			if s.recvErr != nil {
				err := s.recvErr
				s.mu.Unlock()
				return total, err
			}
			if s.recvEnd {
				s.mu.Unlock()
				return total, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-s.readable:
		case <-s.rdl.wait():
			return total, timeoutError{}
		}
	}
}

// deliverLocked hands received DATA to the consumer. If WriteTo is parked
// on an empty queue with a TCP sink, the bytes go straight into the socket
// with a non-blocking write; only what the kernel does not take right now
// is queued. It reports the bytes consumed (to credit) and whether the
// consumer must be woken. Caller holds s.mu; it is released during the
// write.
func (s *Stream) deliverLocked(data []byte) (consumed int, wake bool) {
	if s.sink == nil || s.sinkBusy || s.recv.len() > 0 || s.sinkErr != nil {
		s.recv.push(data)
		return 0, true
	}
	s.sinkBusy = true
	sink := s.sink
	s.mu.Unlock()
	n, err := sink.TryWrite(data)
	s.mu.Lock()
	s.sinkBusy = false
	s.direct += int64(n)
	if s.readClosed { // closed while we wrote: drop and credit the rest
		return len(data), true
	}
	if err != nil {
		s.sinkErr = err
		return len(data), true // the rest is dropped with the failed sink
	}
	if n < len(data) {
		s.recv.push(data[n:])
		return n, true
	}
	return n, false
}
