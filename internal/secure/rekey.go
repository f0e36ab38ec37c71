package secure

import "time"

// usableCurrent returns p's current keypair if it may still send, retiring
// it if it has expired. p.mu is held.
func (c *Conn) usableCurrent(p *peer, now time.Time) *keypair {
	kp := p.current
	if kp == nil {
		return nil
	}
	if kp.retired || now.Sub(kp.created) >= c.cfg.RejectAfterTime || kp.sendCounter >= rejectAfterPackets {
		c.retire(p, kp)
		return nil
	}
	return kp
}

// wantRekey reports whether it is time to replace kp, p's current session.
func (c *Conn) wantRekey(p *peer, kp *keypair, now time.Time) bool {
	age := now.Sub(kp.created)
	switch {
	case kp.sendCounter >= c.cfg.RekeyAfterPackets:
		return true
	case kp.initiator && age >= c.cfg.RekeyAfterTime:
		return true
	case age >= c.cfg.RekeyAfterTime+(c.cfg.RejectAfterTime-c.cfg.RekeyAfterTime)/4:
		// The side that did not initiate the session waits a little longer
		// (15 s by default), so the two rarely start at once.
		return true
	case !p.sendingSince.IsZero() && now.Sub(p.sendingSince) >= c.cfg.RekeyAfterSilence:
		// Only once per silence: the handshake's own retries do the rest.
		p.sendingSince = now
		return true
	}
	return false
}

// install makes kp a session of p: it accepts data at once, and becomes the
// one we send with unless a newer one already is, or it is an XX session of
// ours the peer has not confirmed while we have a working one (then it waits
// for its first packet). Packets queued for a session go now. p.mu is held;
// kp's slot must already name it.
func (c *Conn) install(p *peer, kp *keypair, now time.Time) {
	if len(p.keys) >= maxKeypairs {
		// Retire the oldest that is not the current one.
		var oldest *keypair
		for _, k := range p.keys {
			if k != p.current && (oldest == nil || k.seq < oldest.seq) {
				oldest = k
			}
		}
		if oldest == nil {
			oldest = p.current
		}
		c.retire(p, oldest)
	}
	p.keys = append(p.keys, kp)
	c.count.hsCompleted.Add(1)
	if kp.finish != nil && c.usableCurrent(p, now) != nil {
		return
	}
	c.promote(p, kp, now)
}

// promote makes kp the session we send with, unless a newer one already is,
// and sends what was queued. p.mu is held.
func (c *Conn) promote(p *peer, kp *keypair, now time.Time) {
	if p.current != nil && kp.seq < p.current.seq {
		return
	}
	if p.current != nil {
		c.count.rekeys.Add(1)
	}
	p.current = kp
	if len(p.queue) > 0 {
		for i, pkt := range p.queue {
			c.writeData(p, kp, pkt, nil)
			p.queue[i] = nil
		}
		p.queue = p.queue[:0]
		if p.sendingSince.IsZero() {
			p.sendingSince = now
		}
	}
}

// retire takes kp out of service. p.mu is held.
func (c *Conn) retire(p *peer, kp *keypair) {
	if kp.retired {
		return
	}
	kp.retired = true
	for i, k := range p.keys {
		if k == kp {
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			break
		}
	}
	if p.current == kp {
		p.current = nil
	}
	c.mu.Lock()
	if s := c.index[kp.localIndex]; s != nil && s.kp == kp {
		delete(c.index, kp.localIndex)
	}
	c.mu.Unlock()
}
