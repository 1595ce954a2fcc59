//go:build !unix

package sockets

import "syscall"

// TryWrite never writes on platforms without a non-blocking write path;
// a zero count tells callers to queue the bytes for a blocking writer.
func TryWrite(syscall.RawConn, []byte) (int, error) { return 0, nil }
