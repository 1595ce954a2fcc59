package control

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Every connection starts with one header byte, sent on its own: 'F' carries
// file descriptors as ancillary data, 'N' carries none. Sending it separately
// guarantees the receiver's first one-byte read collects the rights before any
// buffered JSON decoding starts.
const (
	headerFds   = 'F'
	headerNoFds = 'N'
)

// sendHeader sends the header byte and, if any, the files.
func sendHeader(c *net.UnixConn, files []*os.File) error {
	if len(files) == 0 {
		_, err := c.Write([]byte{headerNoFds})
		return err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	rights := unix.UnixRights(fds...)
	n, oobn, err := c.WriteMsgUnix([]byte{headerFds}, rights, nil)
	if err != nil {
		return fmt.Errorf("send fds: %w", err)
	}
	if n != 1 || oobn != len(rights) {
		return fmt.Errorf("send fds: short write")
	}
	return nil
}

// recvHeader reads the header byte and up to max files.
func recvHeader(c *net.UnixConn, max int) ([]*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(max*4))
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("read request header: %w", err)
	}
	switch buf[0] {
	case headerNoFds:
		return nil, nil
	case headerFds:
	default:
		return nil, fmt.Errorf("read request header: unexpected byte %q", buf[0])
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive fds: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, fmt.Errorf("receive fds: %w", err)
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", fd)))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("receive fds: header announced descriptors but none arrived")
	}
	return files, nil
}
