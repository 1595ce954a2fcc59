package inpod

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Config configures a Client. Build it from DefaultConfig and set the rest;
// NewClient validates it once.
type Config struct {
	// SocketPath is the node agent's ZDS socket (ztunnel INPOD_UDS).
	SocketPath string
	// Handler receives the pods. Required.
	Handler PodHandler
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Ports of the in-pod listeners.
	Ports Ports
	// ListenAddr is the address the in-pod listeners bind: 0.0.0.0, which Go
	// opens as a dual-stack wildcard socket (v4 peers appear v4-mapped).
	ListenAddr netip.Addr
	// Mark is the SO_MARK on every in-pod socket.
	Mark uint32
	// Backoff paces reconnects to the node agent.
	Backoff Backoff
}

// Backoff is an exponential reconnect delay: Initial, doubling up to Max,
// reset once a connection is established.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Next returns the delay after prev (0 before the first retry).
func (b Backoff) Next(prev time.Duration) time.Duration {
	if prev <= 0 {
		return b.Initial
	}
	return min(2*prev, b.Max)
}

// DefaultConfig has the upstream ports and mark and a 10 ms → 15 s backoff
// (reliability-tests.md G4).
func DefaultConfig() Config {
	return Config{
		Ports:      DefaultPorts(),
		ListenAddr: netip.IPv4Unspecified(),
		Mark:       Mark,
		Backoff:    Backoff{Initial: 10 * time.Millisecond, Max: 15 * time.Second},
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.SocketPath == "" {
		errs = append(errs, errors.New("SocketPath is empty"))
	}
	if c.Handler == nil {
		errs = append(errs, errors.New("Handler is nil"))
	}
	if !c.ListenAddr.IsValid() {
		errs = append(errs, errors.New("ListenAddr is not set"))
	}
	p := c.Ports
	if p.Outbound == 0 || p.Inbound == 0 || p.InboundPlaintext == 0 ||
		p.Outbound == p.Inbound || p.Inbound == p.InboundPlaintext || p.Outbound == p.InboundPlaintext {
		errs = append(errs, fmt.Errorf("Ports %+v must be three distinct non-zero ports", p))
	}
	if c.Backoff.Initial <= 0 || c.Backoff.Max < c.Backoff.Initial {
		errs = append(errs, fmt.Errorf("Backoff %+v: need 0 < Initial ≤ Max", c.Backoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("inpod: invalid config: %w", err)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
