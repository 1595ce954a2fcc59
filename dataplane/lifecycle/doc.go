// Package lifecycle owns goroutines and connection draining for the data
// plane's proxies: Group (a context plus a WaitGroup, so every goroutine has
// an owner that can stop it and wait for it) and Drainer (ztunnel
// src/drain.rs: stop accepting, let live connections finish until a
// deadline, then force-close them); and ApplyMaxProcs, the proxies'
// worker cap (Envoy's --concurrency, ztunnel's ZTUNNEL_WORKER_THREADS).
//
// It knows nothing about sockets or protocols; callers translate "draining"
// and "forced" into GOAWAY, listener closes and resets.
package lifecycle
