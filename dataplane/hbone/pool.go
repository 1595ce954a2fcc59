package hbone

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
)

// pool holds client connections per PoolKey. A connection is picked while
// it has fewer than min(MaxStreamsPerConn, peer MAX_CONCURRENT_STREAMS)
// open or reserved streams; otherwise another one is dialed.
type pool struct {
	mu     sync.Mutex
	conns  map[PoolKey][]*conn
	closed bool
}

// acquire returns a connection with one stream slot reserved for the
// caller, dialing when none has room. Dials happen outside the lock; a burst
// of first Connects may therefore open a few extra connections, which idle
// release later reclaims.
func (p *pool) acquire(ctx context.Context, d *Dialer, key PoolKey, target netip.AddrPort) (*conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrDialerClosed
	}
	for _, c := range p.conns[key] {
		if c.tryReserve() {
			p.mu.Unlock()
			return c, nil
		}
	}
	p.mu.Unlock()

	c, err := d.dialConn(ctx, key, target.String())
	if err != nil {
		return nil, err
	}
	if !c.tryReserve() { // went away during the handshake
		c.closeWithError(nil)
		return nil, fmt.Errorf("%w: %v", errRetryable, ErrConnClosed)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.closeWithError(ErrDialerClosed)
		return nil, ErrDialerClosed
	}
	p.conns[key] = append(p.conns[key], c)
	p.mu.Unlock()
	return c, nil
}

// tryReserve takes a stream slot if the connection is usable and has room.
func (c *conn) tryReserve() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := min(c.limits.MaxStreamsPerConn, c.peerMaxStreams)
	if c.closed || c.goingAway || uint32(len(c.streams)+c.reserved) >= limit {
		return false
	}
	c.reserved++
	return true
}

// evict drops a closed connection from the pool (conn.onClosed).
func (p *pool) evict(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, cs := range p.conns {
		for i, x := range cs {
			if x == c {
				cs = append(cs[:i], cs[i+1:]...)
				if len(cs) == 0 {
					delete(p.conns, key)
				} else {
					p.conns[key] = cs
				}
				return
			}
		}
	}
}

// closeAll marks the pool closed and returns its connections.
func (p *pool) closeAll() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var all []*conn
	for _, cs := range p.conns {
		all = append(all, cs...)
	}
	return all
}

// Stats is a point-in-time view of the pool, for tests and metrics.
type Stats struct {
	Conns   int
	Streams int
}

// Stats reports pooled connections and their open streams.
func (d *Dialer) Stats() Stats {
	if d.init() != nil {
		return Stats{}
	}
	d.pool.mu.Lock()
	defer d.pool.mu.Unlock()
	var st Stats
	for _, cs := range d.pool.conns {
		for _, c := range cs {
			st.Conns++
			c.mu.Lock()
			st.Streams += len(c.streams)
			c.mu.Unlock()
		}
	}
	return st
}
