package nodeagent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"istio.io/istio/pkg/zdsapi"

	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
)

// session is one connected ztunnel. One goroutine (run) owns the
// connection: it replays the cache, then sends queued requests one at a
// time, each followed by its ack, exactly as istio's handleConn does.
type session struct {
	conn *zds.Conn
	log  *slog.Logger
	// reqs is unbuffered: a request handed over is always answered on its
	// result channel, and its fd is then the session's to close.
	reqs chan *request
	done chan struct{}
}

// request is one WorkloadRequest to send. netns (an add's, owned by the
// request) is closed once sent.
type request struct {
	req    *zdsapi.WorkloadRequest
	netns  *os.File
	result chan error
}

func newRequest(req *zdsapi.WorkloadRequest, netns *os.File) *request {
	return &request{req: req, netns: netns, result: make(chan error, 1)}
}

func (r *request) release() {
	if r.netns != nil {
		r.netns.Close()
	}
}

// do hands r to the session and waits for its ack.
func (s *session) do(ctx context.Context, r *request) error {
	select {
	case s.reqs <- r:
	case <-s.done:
		r.release()
		return ErrDisconnected
	case <-ctx.Done():
		r.release()
		return ctx.Err()
	}
	// Answered within the ack timeout, or with ErrDisconnected.
	return <-r.result
}

// exchange sends r and reads its ack. Transport failures and ack timeouts
// are returned as fatal (the connection is unusable); a NACK is an
// *AckError and the connection goes on.
func (s *session) exchange(r *request, ackTimeout time.Duration) (nack, fatal error) {
	defer r.release()
	fd := -1
	if r.netns != nil {
		fd = int(r.netns.Fd())
	}
	kind, uid := zds.KindOf(r.req), zds.UID(r.req)
	if err := s.conn.SetDeadline(time.Now().Add(ackTimeout)); err != nil {
		return nil, err
	}
	if err := s.conn.SendRequest(r.req, fd); err != nil {
		return nil, err
	}
	text, err := s.conn.RecvAck()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &AckTimeoutError{Kind: kind, UID: uid}
	}
	if err != nil {
		return nil, err
	}
	if text != "" {
		return &AckError{Kind: kind, UID: uid, Message: text}, nil
	}
	return nil, nil
}

// alive does istio's keepalive: a short read on an idle connection must time
// out, since ztunnel never speaks unasked; EOF or data means it is gone or
// broken.
func (s *session) alive() error {
	if err := s.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		return err
	}
	_, err := s.conn.RecvAck()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err == nil {
		return errors.New("nodeagent: unsolicited message from ztunnel")
	}
	return err
}
