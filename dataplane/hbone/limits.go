package hbone

import (
	"fmt"
	"time"
)

// Limits are the tunables of both client and server. The zero value of any
// field means "use the ztunnel default" (see DefaultLimits).
type Limits struct {
	// HandshakeTimeout bounds the TCP dial, the TLS handshake and the HTTP/2
	// preface exchange (client and server).
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that has had no streams for this long.
	// Client: pool idle release. Server: idle connections are closed too,
	// which should be longer than any client's idle release.
	IdleTimeout time.Duration
	// PingInterval is how often each side PINGs; PingTimeout evicts a
	// connection whose PING (or any frame write) has not completed in time.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxStreamsPerConn is the client's cap before the pool opens another
	// connection (further capped by the peer's SETTINGS).
	MaxStreamsPerConn uint32
	// MaxConcurrentStreams is the server's advertised and enforced cap on
	// streams whose handler is still running.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a decoded header block (HPACK size rules).
	MaxHeaderListSize uint32
	// StreamWindow, ConnWindow and MaxFrameSize are the receive-side flow
	// control settings we advertise.
	StreamWindow uint32
	ConnWindow   uint32
	MaxFrameSize uint32
	// MaxControlFramesPerSecond bounds PING/SETTINGS/RST_STREAM/PRIORITY/
	// empty-DATA/unknown frames from a peer; exceeding it is a flood and
	// the connection is closed with ENHANCE_YOUR_CALM.
	MaxControlFramesPerSecond int
}

// DefaultLimits are ztunnel's defaults (ambient-semantics.md §3).
func DefaultLimits() Limits {
	return Limits{
		HandshakeTimeout:          10 * time.Second,
		IdleTimeout:               5 * time.Minute,
		PingInterval:              10 * time.Second,
		PingTimeout:               20 * time.Second,
		MaxStreamsPerConn:         100,
		MaxConcurrentStreams:      200,
		MaxHeaderListSize:         64 << 10,
		StreamWindow:              4 << 20,
		ConnWindow:                16 << 20,
		MaxFrameSize:              1 << 20,
		MaxControlFramesPerSecond: 1000,
	}
}

// withDefaults fills zero fields from DefaultLimits and validates the rest.
func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setU32 := func(v *uint32, def uint32) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&l.HandshakeTimeout, d.HandshakeTimeout)
	setDur(&l.IdleTimeout, d.IdleTimeout)
	setDur(&l.PingInterval, d.PingInterval)
	setDur(&l.PingTimeout, d.PingTimeout)
	setU32(&l.MaxStreamsPerConn, d.MaxStreamsPerConn)
	setU32(&l.MaxConcurrentStreams, d.MaxConcurrentStreams)
	setU32(&l.MaxHeaderListSize, d.MaxHeaderListSize)
	setU32(&l.StreamWindow, d.StreamWindow)
	setU32(&l.ConnWindow, d.ConnWindow)
	setU32(&l.MaxFrameSize, d.MaxFrameSize)
	if l.MaxControlFramesPerSecond == 0 {
		l.MaxControlFramesPerSecond = d.MaxControlFramesPerSecond
	}
	switch {
	case l.HandshakeTimeout < 0 || l.IdleTimeout < 0 || l.PingInterval < 0 || l.PingTimeout < 0:
		return l, fmt.Errorf("hbone: negative timeout in limits")
	case l.StreamWindow < 65535 || l.StreamWindow > 1<<31-1:
		return l, fmt.Errorf("hbone: StreamWindow %d outside [65535, 2^31-1]", l.StreamWindow)
	case l.ConnWindow < 65535 || l.ConnWindow > 1<<31-1:
		return l, fmt.Errorf("hbone: ConnWindow %d outside [65535, 2^31-1]", l.ConnWindow)
	case l.MaxFrameSize < 16384 || l.MaxFrameSize > 1<<24-1:
		return l, fmt.Errorf("hbone: MaxFrameSize %d outside [16384, 2^24-1]", l.MaxFrameSize)
	}
	return l, nil
}
