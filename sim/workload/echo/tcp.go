package echo

import (
	"errors"
	"io"
	"net"
	"time"
)

// serveTCP accepts raw TCP echo connections until ln is closed.
func (s *Server) serveTCP(ln net.Listener, port uint16) {
	defer s.loops.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of fds or similar: back off instead of spinning, as net/http does.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !s.conns.add(c) {
			continue // shutting down; add closed it
		}
		go s.echoConn(c, port)
	}
}

// echoConn echoes until the client half-closes, then finishes writing and
// half-closes in turn, so a client doing "send; shutdown(WR); read to EOF" gets
// everything back.
func (s *Server) echoConn(c net.Conn, port uint16) {
	defer s.conns.remove(c)
	start := time.Now()
	src := c.RemoteAddr().String()
	ip, _ := splitHostPort(src)
	s.stats.Record(port, "tcp", ip)
	// io.Copy between two *net.TCPConn uses splice(2) on Linux: no user-space
	// buffer per connection. Echo means bytes out == bytes in unless the write
	// side failed, and the count is what reached the client's socket.
	n, _ := io.Copy(c, c)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	c.Close()
	s.log.conn(src, n, n, time.Since(start))
}
