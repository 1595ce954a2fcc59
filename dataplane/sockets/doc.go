// Package sockets is the data plane's socket seam: a Factory with
// decorators for socket options and network namespaces (see factory.go),
// plus small hot-path helpers such as TryWrite, which wrap single system
// calls whose semantics the standard library does not expose.
//
// It does not proxy, pool or parse anything; callers own the connections
// it creates.
package sockets
