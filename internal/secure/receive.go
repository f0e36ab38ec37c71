package secure

import (
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/keys"

	"github.com/udpchat/udpchat/internal/wire"
)

// receive handles one datagram and returns the packet it carried, if it was
// an authentic data datagram, and its peer's handle.
func (c *Conn) receive(b []byte, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort) {
	t, err := wire.SecureType(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return nil, from
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
		c.receiveRefusal(b, from, now)
	}
	return nil, from
}

// receiveRefusal opens a refusal of our key (see refused) and, if it is
// authentic, tells Config.PeerRefused. Anyone can send the bytes; only the
// peer we verified in that session can seal them.
func (c *Conn) receiveRefusal(b []byte, from netip.AddrPort, now time.Time) {
	h, tag, err := wire.ParseRefused(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return
	}
	c.mu.Lock()
	s := c.index[h.Receiver]
	if s == nil || s.kp == nil {
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil)
		return
	}
	p, kp := s.peer, s.kp
	c.mu.Unlock()
	p.mu.Lock()
	_, moved, ok := c.openSession(p, kp, h, b[:wire.DataHeaderLen], tag, from, now)
	key := kp.remoteKey
	p.mu.Unlock()
	if moved {
		c.roam(p.addr, from)
	}
	if !ok {
		return
	}
	c.count.refusals.Add(1)
	c.log.Debug("secure: the peer refused our key", "peer", p.addr, "key", key.Fingerprint())
	if c.cfg.PeerRefused != nil {
		c.cfg.PeerRefused(p.addr, key)
	}
}

// receiveData opens a data datagram.
func (c *Conn) receiveData(b []byte, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort) {
	h, ct, err := wire.ParseData(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return nil, from
	}
	header := b[:wire.DataHeaderLen]
	c.mu.Lock()
	s := c.index[h.Receiver]
	switch {
	case s == nil:
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil)
		return nil, from
	case s.kp != nil:
		p, kp := s.peer, s.kp
		c.mu.Unlock()
		return c.openInstalled(p, kp, h, header, ct, from, now), p.addr
	case s.hs != nil && s.hs.pending != nil && !s.hs.busy:
		// The first packet of a session we answered with IK: it confirms
		// the session. It may come from elsewhere than the initiation (see
		// confirm).
		rh, at := s.hs, s.addr
		rh.busy = true
		c.mu.Unlock()
		return c.confirm(rh, at, h, header, ct, from, now)
	case s.addr != from:
		c.mu.Unlock()
		c.drop(DropWrongAddress, from, nil)
		return nil, from
	default:
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil) // e.g. an XX session whose msg3 we have not seen
		return nil, from
	}
}

// openInstalled opens a data datagram on kp, a session of p.
func (c *Conn) openInstalled(p *peer, kp *keypair, h wire.DataHeader, header, ct []byte, from netip.AddrPort, now time.Time) []byte {
	p.mu.Lock()
	pkt, moved, ok := c.openSession(p, kp, h, header, ct, from, now)
	if ok {
		if kp.finish != nil { // the peer has the session: our msg3 arrived
			kp.finish = nil
			if p.current != kp {
				c.promote(p, kp, now)
			}
		}
		p.lastRecv, p.sendingSince = now, time.Time{}
		p.heard.Store(now.UnixNano())
		c.count.packetsIn.Add(1)
	}
	p.mu.Unlock()
	if moved {
		c.roam(p.addr, from)
	}
	if !ok {
		return nil
	}
	return pkt
}

// openSession authenticates a data datagram or a refusal on kp, a session of
// p, in place, and returns what it carried; it drops and counts what does
// not open. A datagram from elsewhere than p's endpoint opens only if it is
// newer than every one accepted in its session (a replayed or delayed one
// never is, so it cannot move p back to an old address); then p moves there
// (roaming: moved is set, and the caller tells OnRoam once p.mu is
// released). Its index, which only p was told, found the session and its
// tag proves p sealed it, so only a copy of a datagram p sent can move p,
// and only before the original arrives.
//
// Newer in its session, not across sessions: both sides of a simultaneous
// handshake hold both sessions, made in opposite orders, and a peer may
// send on the one we made first; a rule across sessions would strand it.
// The cost: a datagram of a session the peer has left, delayed past its
// move, can move it back until its next datagram. p.mu is held.
func (c *Conn) openSession(p *peer, kp *keypair, h wire.DataHeader, header, ct []byte, from netip.AddrPort, now time.Time) (pkt []byte, moved, ok bool) {
	if kp.retired {
		c.drop(DropUnknownIndex, from, nil)
		return nil, false, false
	}
	if now.Sub(kp.created) >= c.cfg.RejectAfterTime {
		c.retire(p, kp)
		c.drop(DropExpired, from, nil)
		return nil, false, false
	}
	elsewhere := from != p.endpoint
	if elsewhere && !kp.window.Newer(h.Counter) {
		c.drop(DropWrongAddress, from, nil)
		return nil, false, false
	}
	pkt, reason, ok := kp.open(h, header, ct)
	if !ok {
		c.drop(reason, from, nil)
		return nil, false, false
	}
	if elsewhere {
		c.mu.Lock()
		c.moveLocked(p, from)
		c.mu.Unlock()
	}
	return pkt, elsewhere, true
}

// confirm opens the first packet of an IK session we answered, whose
// initiation came from at, and installs the session if it authenticates.
// rh has been claimed (busy). It returns the packet and the handle of the
// peer it came from: the initiator's, moved to from if the packet came from
// elsewhere. The peer may have moved in between (its initiation went through
// a relay, and a probe opened a direct path before its first packet), and
// the first packet of a session is newer than every one accepted in it: as
// roaming goes (openSession), it may move the peer.
func (c *Conn) confirm(rh *handshake, at netip.AddrPort, h wire.DataHeader, header, ct []byte, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort) {
	kp := rh.pending
	if now.Sub(kp.created) >= halfOpenTimeout {
		c.endHalfOpen(rh)
		c.drop(DropExpired, from, nil)
		return nil, from
	}
	pkt, reason, ok := kp.open(h, header, ct)
	if !ok {
		c.release(rh)
		c.drop(reason, from, nil)
		return nil, from
	}
	handle := c.handleAt(at, kp.remoteKey)
	if err := c.verify(handle, kp.remoteKey); err != nil {
		c.endHalfOpen(rh)
		c.refused(from, kp.remoteKey, err)
		c.write(kp.sealRefusal(nil), from)
		return nil, from
	}
	if !c.establish(rh, kp, handle, from, now) {
		return nil, from
	}
	c.count.packetsIn.Add(1)
	return pkt, handle
}

// handleAt is the handle of the peer a handshake with key completed from
// addr belongs to: the peer that moved to addr, else the one known by addr
// (which may be away: the handshake brings it back), else the one
// Config.HandleFor names, else a new peer's, addr itself. Never by key
// alone, but for HandleFor's: two processes of one user (the chat, and
// udpchat send beside it) are two peers, and one must not take the other's
// endpoint.
func (c *Conn) handleAt(addr netip.AddrPort, key keys.PublicKey) netip.AddrPort {
	c.mu.Lock()
	p, known := c.roamed[addr], c.peers[addr] != nil
	c.mu.Unlock()
	switch {
	case p != nil:
		return p.addr
	case !known && c.cfg.HandleFor != nil:
		if h, ok := c.cfg.HandleFor(addr, key); ok {
			return h
		}
	}
	return addr
}

// establish turns the claimed responder handshake rh into the session kp of
// the peer handle, which completed it from from (its endpoint now). It
// reports false (and counts the drop) if the peer table is full.
func (c *Conn) establish(rh *handshake, kp *keypair, handle, from netip.AddrPort, now time.Time) bool {
	for {
		p := c.peerFor(handle, true)
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
		moved := p.endpoint != from
		if moved {
			c.moveLocked(p, from)
		}
		c.mu.Unlock()
		c.install(p, kp, now)
		p.lastRecv, p.sendingSince = now, time.Time{}
		p.heard.Store(now.UnixNano())
		p.mu.Unlock()
		c.log.Debug("secure: session", "peer", handle, "from", from, "role", "responder", "ik", rh.ik,
			"key", kp.remoteKey.Fingerprint())
		if moved {
			c.roam(handle, from)
		}
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
