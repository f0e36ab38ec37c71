package secure

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/flynn/noise"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// Handshakes: the initiator's side (start, response, cookie reply) runs with
// the peer's lock held; the responder's side (initiation, XX msg3) works on a
// handshake that only the index table holds, claimed while in use.

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func noiseConfig(ik, initiator bool, static noise.DHKey, remote *keys.PublicKey) noise.Config {
	cfg := noise.Config{
		CipherSuite:   cipherSuite,
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      []byte(prologue),
		StaticKeypair: static,
	}
	if ik {
		cfg.Pattern = noise.HandshakeIK
		if remote != nil {
			cfg.PeerStatic = remote[:]
		}
	}
	return cfg
}

// ensureHandshake starts a handshake with p, or a new attempt, unless the
// last initiation went less than HandshakeRetry ago: whether it is still
// waiting or failed (refused, say), the next waits that long. p.mu is held.
func (c *Conn) ensureHandshake(p *peer, now time.Time, rekey bool) {
	if p.lastInit.IsZero() || now.Sub(p.lastInit) >= c.cfg.HandshakeRetry {
		c.startHandshake(p, now, rekey)
	}
}

// ikKey returns the key to try IK with: the last session's, else the one
// Config.KnownKey gives. p.mu is held.
func (c *Conn) ikKey(p *peer) (keys.PublicKey, bool) {
	if p.current != nil {
		return p.current.remoteKey, true
	}
	if len(p.keys) > 0 {
		return p.keys[len(p.keys)-1].remoteKey, true
	}
	if c.cfg.KnownKey != nil {
		if k, ok := c.cfg.KnownKey(p.addr); ok && !k.IsZero() {
			return k, true
		}
	}
	return keys.PublicKey{}, false
}

// startHandshake sends a new initiation to p, replacing any attempt in
// progress. p.mu is held.
func (c *Conn) startHandshake(p *peer, now time.Time, rekey bool) {
	rk, ik := c.ikKey(p)
	if ik && p.ikTries >= c.cfg.IKAttempts {
		if p.ikTries == c.cfg.IKAttempts {
			c.count.fallbacks.Add(1)
			c.log.Debug("secure: IK unanswered, falling back to XX", "peer", p.addr, "tries", p.ikTries)
			p.ikTries++ // count the fallback once
		}
		ik = false
	}
	st, err := noise.NewHandshakeState(noiseConfig(ik, true, c.static, &rk))
	if err != nil {
		c.log.Warn("secure: handshake", "peer", p.addr, "err", err)
		return
	}
	msg1, _, _, err := st.WriteMessage(nil, nil)
	if err != nil {
		c.log.Warn("secure: handshake", "peer", p.addr, "err", err)
		return
	}
	hs := &handshake{state: st, ik: ik, initiator: true, rekey: rekey, addr: p.endpoint, started: now, remoteKey: rk}
	c.mu.Lock()
	if p.hs != nil {
		delete(c.index, p.hs.localIndex)
	}
	hs.localIndex = c.newIndexLocked()
	c.index[hs.localIndex] = &slot{peer: p, hs: hs}
	c.mu.Unlock()
	p.hs, p.lastInit = hs, now
	if ik {
		p.ikTries++
	}

	m := wire.Initiation{Type: wire.TypeInitXX, Sender: hs.localIndex, Noise: msg1}
	mac1Key := c.xxMAC1Key
	if ik {
		m.Type = wire.TypeInitIK
		mac1Key = labelKey(labelMAC1, &rk)
	}
	b := m.Append(p.buf[:0])
	hs.mac1 = mac16(mac1Key[:], b[:wire.InitMAC1Offset])
	copy(b[wire.InitMAC1Offset:], hs.mac1[:])
	if !p.cookieAt.IsZero() && now.Sub(p.cookieAt) < cookieLifetime {
		mac2 := mac16(p.cookie[:], b[:wire.InitMAC2Offset])
		copy(b[wire.InitMAC2Offset:], mac2[:])
		hs.hadCookie = true
	}
	c.count.hsStarted.Add(1)
	c.write(b, p.endpoint)
}

// abandon forgets p's handshake in progress. p.mu is held.
func (c *Conn) abandon(p *peer) {
	if p.hs == nil {
		return
	}
	c.mu.Lock()
	if s := c.index[p.hs.localIndex]; s != nil && s.hs == p.hs {
		delete(c.index, p.hs.localIndex)
	}
	c.mu.Unlock()
	p.hs = nil
}

// initiatorHandshake finds our handshake that index names, checking it came
// from its peer's address.
func (c *Conn) initiatorHandshake(index uint32, from netip.AddrPort) (*peer, *handshake, DropReason, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.index[index]
	switch {
	case s == nil || s.peer == nil || s.hs == nil || !s.hs.initiator:
		return nil, nil, DropUnknownIndex, false
	case s.source() != from:
		return nil, nil, DropWrongAddress, false
	}
	return s.peer, s.hs, 0, true
}

// lockInitiatorHandshake finds the handshake of ours that receiver names and
// locks its peer. If there is none from that address, or we have given it
// up, it drops the datagram and reports false; otherwise the caller unlocks
// p.mu.
func (c *Conn) lockInitiatorHandshake(receiver uint32, from netip.AddrPort) (p *peer, hs *handshake, ok bool) {
	p, hs, reason, ok := c.initiatorHandshake(receiver, from)
	if !ok {
		c.drop(reason, from, nil)
		return nil, nil, false
	}
	p.mu.Lock()
	if p.hs != hs {
		p.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil) // an attempt we gave up
		return nil, nil, false
	}
	return p, hs, true
}

// receiveResponse completes (IK) or continues (XX) a handshake of ours.
func (c *Conn) receiveResponse(b []byte, from netip.AddrPort, now time.Time) {
	m, err := wire.ParseResponse(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return
	}
	p, hs, ok := c.lockInitiatorHandshake(m.Receiver, from)
	if !ok {
		return
	}
	defer p.mu.Unlock()
	if (m.Type == wire.TypeRespIK) != hs.ik {
		c.drop(DropMalformed, from, nil)
		return
	}
	_, send, recv, err := hs.state.ReadMessage(nil, m.Noise)
	if err != nil {
		c.drop(DropHandshakeAuth, from, err)
		return
	}
	var rk keys.PublicKey
	copy(rk[:], hs.state.PeerStatic())
	if err := c.verify(p.addr, rk); err != nil {
		c.abandon(p)
		c.refused(from, rk, err)
		return
	}
	var finish []byte
	if !hs.ik {
		var msg3 []byte
		msg3, send, recv, err = hs.state.WriteMessage(nil, nil)
		if err != nil {
			c.abandon(p)
			c.drop(DropHandshakeAuth, from, err)
			return
		}
		f := wire.Finish{Receiver: m.Sender, Noise: msg3}
		finish = f.Append(nil)
	}
	if send == nil || recv == nil {
		c.abandon(p)
		c.drop(DropHandshakeAuth, from, nil)
		return
	}
	kp := c.newKeypair(send, recv, now)
	kp.localIndex, kp.remoteIndex, kp.remoteKey, kp.initiator = hs.localIndex, m.Sender, rk, true
	c.mu.Lock()
	if s := c.index[hs.localIndex]; s != nil && s.hs == hs {
		s.hs, s.kp = nil, kp
	}
	c.mu.Unlock()
	p.hs = nil
	p.ikTries = 0
	if finish != nil {
		kp.finish, kp.finishSent = finish, now
		c.write(finish, from)
	}
	c.install(p, kp, now)
	p.heard.Store(now.UnixNano()) // its response proved it
	c.log.Debug("secure: session", "peer", from, "role", "initiator", "ik", hs.ik, "key", rk.Fingerprint())
}

// receiveCookie takes a cookie reply to an initiation of ours and, if that
// initiation carried no cookie, initiates again at once with it.
func (c *Conn) receiveCookie(b []byte, from netip.AddrPort, now time.Time) {
	m, err := wire.ParseCookieReply(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return
	}
	p, hs, ok := c.lockInitiatorHandshake(m.Receiver, from)
	if !ok {
		return
	}
	defer p.mu.Unlock()
	key := c.xxCookieKey
	if hs.ik {
		key = labelKey(labelCookie, &hs.remoteKey)
	}
	cookie, ok := openCookie(&key, &m, hs.mac1)
	if !ok {
		c.drop(DropBadCookie, from, nil)
		return
	}
	c.count.cookiesRecv.Add(1)
	p.cookie, p.cookieAt = cookie, now
	if hs.ik && p.ikTries > 0 {
		p.ikTries-- // the responder has our idea of its key (mac1 matched): not a failed try
	}
	if !hs.hadCookie {
		c.startHandshake(p, now, hs.rekey)
	}
}

// noteInitiation counts an initiation and reports whether we are under load.
func (c *Conn) noteInitiation(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &c.load
	if now.Sub(l.windowStart) >= time.Second {
		l.windowStart, l.n = now, 0
	}
	l.n++
	if l.n > c.cfg.HandshakeRateLimit || c.halfOpen >= c.cfg.MaxHalfOpen/8 {
		l.until = now.Add(underLoadFor)
	}
	return now.Before(l.until)
}

// receiveInitiation answers an initiation: with a response (and a half-open
// handshake), with a cookie reply (under load, or over the source's rate,
// without a valid mac2), or not at all.
func (c *Conn) receiveInitiation(b []byte, from netip.AddrPort, now time.Time) {
	m, err := wire.ParseInitiation(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return
	}
	ik := m.Type == wire.TypeInitIK
	mac1Key, cookieKey := &c.xxMAC1Key, &c.xxCookieKey
	if ik {
		mac1Key, cookieKey = &c.ikMAC1Key, &c.ikCookieKey
	}
	want := mac16(mac1Key[:], b[:wire.InitMAC1Offset])
	if subtle.ConstantTimeCompare(want[:], m.MAC1[:]) != 1 {
		c.drop(DropMAC1, from, nil)
		return
	}
	proven := c.cookies.checkMAC2(b, from, now)
	underLoad := c.noteInitiation(now)
	if !proven && (underLoad || !c.unproven.Allow(from.Addr(), now)) {
		r := sealCookie(cookieKey, m.Sender, m.MAC1, c.cookies.cookie(from, now))
		var out [wire.CookieReplyLen]byte
		c.count.cookiesSent.Add(1)
		c.write(r.Append(out[:0]), from)
		return
	}
	if proven && !c.proven.Allow(from.Addr(), now) {
		c.drop(DropRateLimited, from, nil)
		return
	}
	c.mu.Lock()
	full := c.halfOpen >= c.cfg.MaxHalfOpen
	c.mu.Unlock()
	if full {
		c.drop(DropHalfOpenFull, from, nil)
		return
	}

	st, err := noise.NewHandshakeState(noiseConfig(ik, false, c.static, nil))
	if err != nil {
		c.drop(DropHandshakeAuth, from, err)
		return
	}
	if _, _, _, err := st.ReadMessage(nil, m.Noise); err != nil {
		c.drop(DropHandshakeAuth, from, err)
		return
	}
	rh := &handshake{state: st, ik: ik, addr: from, started: now, remoteIndex: m.Sender}
	// An IK initiation reveals the initiator's key, but Verify hears of it
	// only once the first packet proves the session live (confirm): a
	// replayed initiation from a forged address must teach the trust store
	// nothing.
	var rk keys.PublicKey
	if ik {
		copy(rk[:], st.PeerStatic())
	}
	msg2, cs1, cs2, err := st.WriteMessage(nil, nil)
	if err != nil {
		c.drop(DropHandshakeAuth, from, err)
		return
	}
	if ik {
		if cs1 == nil || cs2 == nil {
			c.drop(DropHandshakeAuth, from, nil)
			return
		}
		// The initiator encrypts with the first CipherState, we with the
		// second.
		rh.pending = c.newKeypair(cs2, cs1, now)
		rh.pending.remoteIndex, rh.pending.remoteKey = m.Sender, rk
	}

	c.mu.Lock()
	if c.halfOpen >= c.cfg.MaxHalfOpen {
		c.mu.Unlock()
		c.drop(DropHalfOpenFull, from, nil)
		return
	}
	rh.localIndex = c.newIndexLocked()
	if rh.pending != nil {
		rh.pending.localIndex = rh.localIndex
	}
	c.index[rh.localIndex] = &slot{addr: from, hs: rh}
	c.halfOpen++
	c.mu.Unlock()

	resp := wire.Response{Type: wire.TypeRespXX, Sender: rh.localIndex, Receiver: m.Sender, Noise: msg2}
	if ik {
		resp.Type = wire.TypeRespIK
	}
	var out [wire.RespXXLen]byte
	c.write(resp.Append(out[:0]), from)
}

// receiveFinish completes an XX handshake we answered.
func (c *Conn) receiveFinish(b []byte, from netip.AddrPort, now time.Time) {
	m, err := wire.ParseFinish(b)
	if err != nil {
		c.drop(reasonOf(err), from, err)
		return
	}
	c.mu.Lock()
	s := c.index[m.Receiver]
	var rh *handshake
	switch {
	case s == nil || s.peer != nil || s.hs == nil || s.hs.ik || s.hs.busy:
		c.mu.Unlock()
		c.drop(DropUnknownIndex, from, nil) // a duplicate of one we completed, too
		return
	case s.addr != from:
		c.mu.Unlock()
		c.drop(DropWrongAddress, from, nil)
		return
	}
	rh = s.hs
	rh.busy = true
	c.mu.Unlock()

	_, cs1, cs2, err := rh.state.ReadMessage(nil, m.Noise)
	if err != nil || cs1 == nil || cs2 == nil {
		c.release(rh) // state rolled back: the real msg3 may still come
		c.drop(DropHandshakeAuth, from, err)
		return
	}
	var rk keys.PublicKey
	copy(rk[:], rh.state.PeerStatic())
	kp := c.newKeypair(cs2, cs1, now)
	kp.localIndex, kp.remoteIndex, kp.remoteKey = rh.localIndex, rh.remoteIndex, rk
	handle := c.handleAt(from, rk)
	if err := c.verify(handle, rk); err != nil {
		c.endHalfOpen(rh)
		c.refused(from, rk, err)
		c.write(kp.sealRefusal(nil), from)
		return
	}
	c.establish(rh, kp, handle, from, now)
}

// refused counts and logs a session Verify refused. The caller then tells
// the peer, with a refusal sealed in that session: it has proven its
// address (msg3, or IK data, names an index we sent only there) and holds
// the key we refuse, so the refusal — 30 bytes, less than what caused it —
// goes only to whoever can open it, and tells it nothing the silence that
// would follow does not (see docs/PROTOCOL.md, S4.6).
func (c *Conn) refused(from netip.AddrPort, key keys.PublicKey, err error) {
	c.count.drops[DropRefused].Add(1)
	if c.logLimit.allow(time.Now()) {
		c.log.Warn("secure: peer key refused", "peer", from, "key", key.Fingerprint(), "err", err)
	}
}
