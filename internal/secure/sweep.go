package secure

import "time"

// maybeSweep runs the sweep if it is due and no other is running. A sweep
// can outlast sweepInterval (it waits for each peer's lock, and a loaded
// machine may deschedule it), so being due is not enough: the next one
// waits until it is over.
func (c *Conn) maybeSweep(now time.Time) {
	last := c.lastSweep.Load()
	if now.UnixNano()-last < int64(sweepInterval) || !c.sweeping.CompareAndSwap(false, true) {
		return
	}
	defer c.sweeping.Store(false)
	if c.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		c.sweep(now)
	}
}

// sweep expires what is old and retries handshakes that are due, for every
// peer: the timers a goroutine would otherwise run.
func (c *Conn) sweep(now time.Time) {
	c.mu.Lock()
	for i, s := range c.index {
		if s.peer == nil && s.hs != nil && !s.hs.busy && now.Sub(s.hs.started) >= halfOpenTimeout {
			delete(c.index, i)
			c.halfOpen--
		}
	}
	peers := c.sweepPeers[:0]
	for _, p := range c.peers {
		peers = append(peers, p)
	}
	c.mu.Unlock()
	for i, p := range peers {
		p.mu.Lock()
		c.sweepPeer(p, now)
		p.mu.Unlock()
		peers[i] = nil
	}
	c.mu.Lock()
	c.sweepPeers = peers[:0]
	c.mu.Unlock()
	c.unproven.Sweep(now)
	c.proven.Sweep(now)
}

// sweepPeer is the sweep for one peer. p.mu is held.
func (c *Conn) sweepPeer(p *peer, now time.Time) {
	for i := 0; i < len(p.keys); {
		if kp := p.keys[i]; now.Sub(kp.created) >= c.cfg.RejectAfterTime {
			c.retire(p, kp) // removes it from p.keys
			continue
		}
		i++
	}
	if p.hs != nil {
		if now.Sub(p.lastWrite) >= handshakeGiveUp {
			c.abandon(p)
			if n := len(p.queue); n > 0 {
				c.count.drops[DropHandshakeLost].Add(uint64(n))
				p.queue = nil
			}
		} else if len(p.queue) > 0 || p.hs.rekey {
			c.ensureHandshake(p, now, p.hs.rekey)
		}
	}
	if p.hs == nil && len(p.keys) == 0 && len(p.queue) == 0 && now.Sub(p.lastWrite) >= c.cfg.RejectAfterTime &&
		now.Sub(p.lastRecv) >= c.cfg.RejectAfterTime {
		p.removed = true
		c.mu.Lock()
		c.removeLocked(p)
		c.mu.Unlock()
	}
}
