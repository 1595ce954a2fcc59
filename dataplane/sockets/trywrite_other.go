//go:build !unix

package sockets

import "syscall"

// TryWriter never writes on platforms without a non-blocking write path;
// a zero count tells callers to queue the bytes for a blocking writer.
type TryWriter struct{}

func NewTryWriter(syscall.RawConn) *TryWriter { return &TryWriter{} }

func (*TryWriter) TryWrite([]byte) (int, error) { return 0, nil }

func TryWrite(syscall.RawConn, []byte) (int, error) { return 0, nil }
