package hbone

import (
	"encoding/binary"
	"time"
)

// runKeepalive PINGs the peer every PingInterval and closes the connection
// when a PING goes unanswered, a frame write stalls for PingTimeout (the
// peer stopped reading), or — after IdleTimeout without streams — releases
// it. It returns when the connection closes.
func (c *conn) runKeepalive() {
	tick := min(c.limits.PingInterval, c.limits.PingTimeout, c.limits.IdleTimeout) / 4
	tick = max(tick, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var seq uint64
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			if ws := c.writeStart.Load(); ws != 0 && now.Sub(time.Unix(0, ws)) > c.limits.PingTimeout {
				c.closeWithError(ErrPingTimeout)
				return
			}
			c.mu.Lock()
			pingLate := !c.pingSentAt.IsZero() && now.Sub(c.pingSentAt) > c.limits.PingTimeout
			idle := len(c.streams) == 0 && c.reserved == 0 && now.Sub(c.idleSince) >= c.limits.IdleTimeout
			if idle {
				c.goingAway = true // no Connect may pick this connection any more
			}
			sendPing := !pingLate && !idle && c.pingSentAt.IsZero() && now.Sub(c.lastPingAt) >= c.limits.PingInterval
			if sendPing {
				c.pingSentAt, c.lastPingAt = now, now
			}
			c.mu.Unlock()
			switch {
			case pingLate:
				c.closeWithError(ErrPingTimeout)
				return
			case idle:
				c.log.Debug("hbone releasing idle connection", "role", c.role)
				c.goAwayBestEffort(0)
				c.closeWithError(nil)
				return
			case sendPing:
				seq++
				var data [8]byte
				binary.BigEndian.PutUint64(data[:], seq)
				// Never block this goroutine on a stalled writer: if the
				// lock is busy the stall check above fires next tick.
				if c.wmu.TryLock() {
					c.writeStart.Store(now.UnixNano())
					// With wmu held no one else writes, so a deadline scoped
					// to this write keeps this goroutine from hanging.
					_ = c.nc.SetWriteDeadline(now.Add(c.limits.PingTimeout))
					err := c.fr.WritePing(false, data)
					if err == nil {
						err = c.flushLocked()
					}
					_ = c.nc.SetWriteDeadline(time.Time{})
					_ = c.unlockWrite(err)
				} else {
					c.mu.Lock()
					c.pingSentAt = time.Time{}
					c.mu.Unlock()
				}
			}
		}
	}
}
