// Package sockets is the data plane's socket seam: a Factory with
// decorators for socket options and network namespaces (see factory.go),
// plus small hot-path helpers that wrap single system calls whose semantics
// the standard library does not expose: TryWrite (a write that never
// parks) and RawIO (reads and writes that skip the runtime's system-call
// bookkeeping, so an idle relay does not wake the sysmon thread per message).
//
// It does not proxy, pool or parse anything; callers own the connections
// it creates.
package sockets
