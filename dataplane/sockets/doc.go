// Package sockets holds small socket helpers for the data plane's hot
// paths. It is not a socket factory or namespace manager; it only wraps
// single system calls whose semantics the standard library does not expose.
package sockets
