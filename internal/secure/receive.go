package secure

import (
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// receive handles one datagram and returns the packet it carried, if it was
// an authentic data datagram.
func (c *Conn) receive(b []byte, from netip.AddrPort, now time.Time) []byte {
	t, err := wire.SecureType(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return nil
	}
	switch t {
	case wire.TypeData:
		return c.receiveData(b, from, now)
	case wire.TypeInitXX, wire.TypeInitIK:
		c.receiveInitiation(b, from, now)
	case wire.TypeRespXX, wire.TypeRespIK:
		c.receiveResponse(b, from, now)
	case wire.TypeFinishXX:
		c.receiveFinish(b, from, now)
	case wire.TypeCookie:
		c.receiveCookie(b, from, now)
	case wire.TypeRefused:
		c.receiveRefusal(b, from)
	}
	return nil
}

// receiveRefusal opens a refusal of our key (see refused) and, if it is
// authentic, tells Config.PeerRefused. Anyone can send the bytes; only the
// peer we verified in that session can seal them.
func (c *Conn) receiveRefusal(b []byte, from netip.AddrPort) {
	h, tag, err := wire.ParseRefused(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return
	}
	c.mu.Lock()
	s := c.index[h.Receiver]
	switch {
	case s == nil || s.kp == nil:
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil)
		return
	case s.addr != from:
		c.mu.Unlock()
		c.drop(DropWrongAddress, from, nil)
		return
	}
	p, kp := s.peer, s.kp
	c.mu.Unlock()
	p.mu.Lock()
	ok := !kp.retired
	reason := DropUnknownIndex
	if ok {
		_, reason, ok = kp.open(h, b[:wire.DataHeaderLen], tag)
	}
	key := kp.remoteKey
	p.mu.Unlock()
	if !ok {
		c.drop(reason, from, nil)
		return
	}
	c.count.refusals.Add(1)
	c.log.Debug("secure: the peer refused our key", "peer", from, "key", key.Fingerprint())
	if c.cfg.PeerRefused != nil {
		c.cfg.PeerRefused(from, key)
	}
}

// receiveData opens a data datagram.
func (c *Conn) receiveData(b []byte, from netip.AddrPort, now time.Time) []byte {
	h, ct, err := wire.ParseData(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return nil
	}
	header := b[:wire.DataHeaderLen]
	c.mu.Lock()
	s := c.index[h.Receiver]
	switch {
	case s == nil:
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil)
		return nil
	case s.addr != from:
		c.mu.Unlock()
		c.drop(DropWrongAddress, from, nil)
		return nil
	case s.kp != nil:
		p, kp := s.peer, s.kp
		c.mu.Unlock()
		return c.openInstalled(p, kp, h, header, ct, from, now)
	case s.hs != nil && s.hs.pending != nil && !s.hs.busy:
		// The first packet of a session we answered with IK: it confirms
		// the session.
		rh := s.hs
		rh.busy = true
		c.mu.Unlock()
		return c.confirm(rh, h, header, ct, from, now)
	default:
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil) // e.g. an XX session whose msg3 we have not seen
		return nil
	}
}

func (c *Conn) openInstalled(p *peer, kp *keypair, h wire.DataHeader, header, ct []byte, from netip.AddrPort, now time.Time) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if kp.retired {
		c.drop(DropUnknownIndex, from, nil)
		return nil
	}
	if now.Sub(kp.created) >= c.cfg.RejectAfterTime {
		c.retire(p, kp)
		c.drop(DropExpired, from, nil)
		return nil
	}
	pkt, reason, ok := kp.open(h, header, ct)
	if !ok {
		c.drop(reason, from, nil)
		return nil
	}
	if kp.finish != nil { // the peer has the session: our msg3 arrived
		kp.finish = nil
		if p.current != kp {
			c.promote(p, kp, now)
		}
	}
	p.lastRecv, p.sendingSince = now, time.Time{}
	p.heard.Store(now.UnixNano())
	c.count.packetsIn.Add(1)
	return pkt
}

// confirm opens the first packet of an IK session we answered, and installs
// the session if it authenticates. rh has been claimed (busy).
func (c *Conn) confirm(rh *handshake, h wire.DataHeader, header, ct []byte, from netip.AddrPort, now time.Time) []byte {
	kp := rh.pending
	if now.Sub(kp.created) >= halfOpenTimeout {
		c.endHalfOpen(rh)
		c.drop(DropExpired, from, nil)
		return nil
	}
	pkt, reason, ok := kp.open(h, header, ct)
	if !ok {
		c.release(rh)
		c.drop(reason, from, nil)
		return nil
	}
	if err := c.verify(from, kp.remoteKey); err != nil {
		c.endHalfOpen(rh)
		c.refused(from, kp.remoteKey, err)
		c.write(kp.sealRefusal(nil), from)
		return nil
	}
	if !c.establish(rh, kp, from, now) {
		return nil
	}
	c.count.packetsIn.Add(1)
	return pkt
}

// establish turns the claimed responder handshake rh into the session kp of
// the peer at from. It reports false (and counts the drop) if the peer table
// is full.
func (c *Conn) establish(rh *handshake, kp *keypair, from netip.AddrPort, now time.Time) bool {
	for {
		p := c.peerFor(from, true)
		if p == nil {
			c.endHalfOpen(rh)
			c.drop(DropTooManyPeers, from, nil)
			return false
		}
		p.mu.Lock()
		if p.removed {
			p.mu.Unlock()
			continue
		}
		c.mu.Lock()
		if s := c.index[rh.localIndex]; s != nil && s.hs == rh {
			s.hs, s.kp, s.peer = nil, kp, p
			c.halfOpen--
		}
		c.mu.Unlock()
		c.install(p, kp, now)
		p.lastRecv, p.sendingSince = now, time.Time{}
		p.heard.Store(now.UnixNano())
		p.mu.Unlock()
		c.log.Debug("secure: session", "peer", from, "role", "responder", "ik", rh.ik,
			"key", kp.remoteKey.Fingerprint())
		return true
	}
}

// release returns a claimed responder handshake to the table.
func (c *Conn) release(rh *handshake) {
	c.mu.Lock()
	rh.busy = false
	c.mu.Unlock()
}

// endHalfOpen forgets a responder handshake.
func (c *Conn) endHalfOpen(rh *handshake) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.index[rh.localIndex]; s != nil && s.hs == rh {
		delete(c.index, rh.localIndex)
		c.halfOpen--
	}
}
