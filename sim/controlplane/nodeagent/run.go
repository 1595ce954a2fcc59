package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
)

// Run accepts ztunnel connections until ctx ends, serving each on a goroutine
// it owns, and returns once all of them have finished.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Error("accepting ztunnel connection", "error", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond): // istio rate-limits accepts too
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runSession(ctx, conn)
		}()
	}
}

// runSession serves one ztunnel: hello, replay + SnapshotSent, then queued
// requests until the connection or ctx ends.
func (s *Server) runSession(ctx context.Context, conn *zds.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.SetReadDeadline(time.Now().Add(s.cfg.AckTimeout)); err != nil {
		return
	}
	if err := conn.RecvHello(); err != nil {
		s.log.Error("ztunnel hello", "error", err)
		return
	}
	sess := &session{conn: conn, log: s.log, reqs: make(chan *request), done: make(chan struct{})}
	replay, err := s.register(sess)
	defer s.unregister(sess)
	if err != nil {
		s.log.Error("registering ztunnel", "error", err)
		return
	}
	s.log.Info("ztunnel connected; replaying", "pods", len(replay))
	for i, r := range replay {
		if !s.send(sess, r) {
			for _, rest := range replay[i+1:] {
				rest.release()
			}
			return
		}
	}
	if !s.send(sess, newRequest(zds.SnapshotSent(), nil)) {
		return
	}
	keepalive := time.NewTicker(s.cfg.Keepalive)
	defer keepalive.Stop()
	for {
		select {
		case r := <-sess.reqs:
			if !s.send(sess, r) {
				return
			}
		case <-keepalive.C:
			if err := sess.alive(); err != nil {
				s.log.Info("ztunnel gone", "error", err)
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// send exchanges r and answers its waiter; false ends the session.
func (s *Server) send(sess *session, r *request) bool {
	nack, fatal := sess.exchange(r, s.cfg.AckTimeout)
	switch {
	case fatal != nil:
		var timeout *AckTimeoutError
		if !errors.As(fatal, &timeout) {
			fatal = fmt.Errorf("%w: %v", ErrDisconnected, fatal)
		}
		s.log.Error("dropping ztunnel connection", "error", fatal)
		r.result <- fatal
		return false
	case nack != nil:
		s.log.Error("ztunnel NACK", "error", nack)
	}
	r.result <- nack
	return true
}

// register adds sess as the newest connection and snapshots the cache in
// the same critical section: an AddPod after it goes to sess, one before it
// is in the replay (possibly both; a duplicate add is idempotent).
func (s *Server) register(sess *session) ([]*request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.sessions = append(s.sessions, sess)
	uids := make([]string, 0, len(s.pods))
	for uid := range s.pods {
		uids = append(uids, uid)
	}
	slices.SortFunc(uids, strings.Compare)
	replay := make([]*request, 0, len(uids))
	for _, uid := range uids {
		c := s.pods[uid]
		fd, err := dupFile(int(c.netns.Fd()))
		if err != nil {
			for _, r := range replay {
				r.release()
			}
			return nil, err
		}
		replay = append(replay, newRequest(zds.Add(uid, workloadInfo(c.pod)), fd))
	}
	return replay, nil
}

// unregister removes sess, then marks it done, so a waiter that sees
// ErrDisconnected finds the newer connection already current.
func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	s.sessions = slices.DeleteFunc(s.sessions, func(o *session) bool { return o == sess })
	s.mu.Unlock()
	close(sess.done)
}
