//go:build !unix

package sockets

import "net"

// RawIO falls back to the connection's own Read and Write where raw
// system calls are not available.
type RawIO struct{ conn *net.TCPConn }

func NewRawIO(c *net.TCPConn) (*RawIO, error) { return &RawIO{conn: c}, nil }

func (r *RawIO) Conn() *net.TCPConn          { return r.conn }
func (r *RawIO) Read(p []byte) (int, error)  { return r.conn.Read(p) }
func (r *RawIO) Write(p []byte) (int, error) { return r.conn.Write(p) }
