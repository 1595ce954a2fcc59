package zds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"istio.io/istio/pkg/zdsapi"
)

// Network is the socket type of the ZDS socket: SOCK_SEQPACKET, so every
// message is one packet and file descriptors stay attached to their message.
const Network = "unixpacket"

// maxRecvFds sizes the ancillary buffer: more room than the one fd the
// protocol allows, so that a peer sending several is seen (and NACKed)
// rather than silently truncated.
const maxRecvFds = 4

// Conn is one ZDS connection, message by message. It is not safe for
// concurrent sends or concurrent receives; upstream runs each end of the
// conversation on one goroutine, because acks correlate with requests only by
// order.
type Conn struct {
	uc *net.UnixConn
}

// NewConn wraps an established SOCK_SEQPACKET unix connection.
func NewConn(uc *net.UnixConn) *Conn { return &Conn{uc: uc} }

// Dial connects to the node agent's socket at path (ztunnel's side).
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, Network, path)
	if err != nil {
		return nil, fmt.Errorf("zds: dial %s: %w", path, err)
	}
	return NewConn(c.(*net.UnixConn)), nil
}

// Listener accepts ztunnel connections (the node agent's side).
type Listener struct {
	ul *net.UnixListener
}

// Listen serves ZDS at path, first removing a stale socket left by an earlier
// run, as istio's newZtunnelServer does. Anything at path that is not a
// socket is left alone and reported. Close unlinks the socket.
func Listen(path string) (*Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("zds: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("zds: removing stale socket: %w", err)
		}
	}
	ul, err := net.ListenUnix(Network, &net.UnixAddr{Name: path, Net: Network})
	if err != nil {
		return nil, fmt.Errorf("zds: listen %s: %w", path, err)
	}
	return &Listener{ul: ul}, nil
}

// Accept waits for the next ztunnel.
func (l *Listener) Accept() (*Conn, error) {
	c, err := l.ul.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return NewConn(c), nil
}

// Close stops listening and removes the socket file.
func (l *Listener) Close() error { return l.ul.Close() }

// Path is the socket's file system path.
func (l *Listener) Path() string { return l.ul.Addr().String() }

// SendHello sends ZdsHello{V1} (ztunnel, first message on a connection).
func (c *Conn) SendHello() error {
	b, err := EncodeHello()
	if err != nil {
		return err
	}
	return c.send(b, nil)
}

// RecvHello receives and checks ztunnel's hello.
func (c *Conn) RecvHello() error {
	b, files, flags, err := c.recv()
	if err != nil {
		return err
	}
	closeAll(files)
	_, err = DecodeHello(b, len(files), flags)
	return err
}

// SendRequest sends req; netnsFd (borrowed, ≥ 0) rides along as SCM_RIGHTS on
// an add and must be negative otherwise.
func (c *Conn) SendRequest(req *zdsapi.WorkloadRequest, netnsFd int) error {
	if (KindOf(req) == KindAdd) != (netnsFd >= 0) {
		return fmt.Errorf("%w: %s with fd %d", ErrUnexpectedFds, KindOf(req), netnsFd)
	}
	b, err := EncodeRequest(req)
	if err != nil {
		return err
	}
	var rights []byte
	if netnsFd >= 0 {
		rights = unix.UnixRights(netnsFd)
	}
	return c.send(b, rights)
}

// RecvRequest receives the next request. For an add it returns the netns as a
// file the caller owns; on any error every received descriptor is closed
// already (ztunnel parses fds first for the same reason: no leaks).
func (c *Conn) RecvRequest() (*zdsapi.WorkloadRequest, *os.File, error) {
	b, files, flags, err := c.recv()
	if err != nil {
		return nil, nil, err
	}
	req, err := DecodeRequest(b, len(files), flags)
	if err != nil {
		closeAll(files)
		return nil, nil, err
	}
	if len(files) == 1 {
		return req, files[0], nil
	}
	return req, nil, nil
}

// SendAck acknowledges the last request; a non-empty errText NACKs it.
func (c *Conn) SendAck(errText string) error {
	b, err := EncodeAck(errText)
	if err != nil {
		return err
	}
	return c.send(b, nil)
}

// RecvAck receives the ack to the last request and returns its error text
// ("" for success). err reports transport and framing failures only.
func (c *Conn) RecvAck() (ackErr string, err error) {
	b, files, flags, err := c.recv()
	if err != nil {
		return "", err
	}
	closeAll(files)
	resp, err := DecodeResponse(b, len(files), flags)
	if err != nil {
		return "", err
	}
	return resp.GetAck().GetError(), nil
}

// SetDeadline, SetReadDeadline and SetWriteDeadline bound the next
// operations, as on net.Conn.
func (c *Conn) SetDeadline(t time.Time) error      { return c.uc.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.uc.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.uc.SetWriteDeadline(t) }

// Close closes the connection; a blocked receive returns net.ErrClosed.
func (c *Conn) Close() error { return c.uc.Close() }

func (c *Conn) send(b, oob []byte) error {
	n, oobn, err := c.uc.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return fmt.Errorf("zds: send: %w", err)
	}
	if n != len(b) || oobn != len(oob) {
		return fmt.Errorf("zds: short send: %d/%d bytes, %d/%d ancillary", n, len(b), oobn, len(oob))
	}
	return nil
}

// recv reads one packet. A zero-length packet is end of stream on
// SOCK_SEQPACKET (ztunnel: "res.bytes == 0 → None").
func (c *Conn) recv() (b []byte, files []*os.File, flags int, err error) {
	buf := make([]byte, MaxMessageSize)
	oob := make([]byte, unix.CmsgSpace(maxRecvFds*4))
	// Go adds MSG_CMSG_CLOEXEC on Linux, so received fds never leak into
	// children.
	n, oobn, flags, _, err := c.uc.ReadMsgUnix(buf, oob)
	files, perr := parseRights(oob[:oobn])
	switch {
	case err != nil:
		closeAll(files)
		return nil, nil, 0, err
	case perr != nil:
		closeAll(files)
		return nil, nil, 0, perr
	case n == 0:
		closeAll(files)
		return nil, nil, 0, io.EOF
	}
	return buf[:n], files, flags, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("zds: parsing ancillary data: %w", err)
	}
	var files []*os.File
	var errs []error
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "zds-fd"))
		}
	}
	return files, errors.Join(errs...)
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// SendPacket sends b as one raw packet with fds attached, bypassing
// validation: fault injection for conformance tests (a malformed or
// mis-framed request must be NACKed, not crash the peer).
func (c *Conn) SendPacket(b []byte, fds ...int) error {
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	return c.send(b, rights)
}
