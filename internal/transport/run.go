package transport

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// rxBatch is what the reader hands run in one channel send: the datagrams
// one read brought (ReadBatch, or ReadFrom for a conn that cannot batch),
// in buffers the batch owns. run returns it to rxPool once handled.
type rxBatch struct {
	ms []udp.Message // Buf: a whole buffer; N and Addr: what was read
	n  int
}

// rxPools hold receive batches of one datagram (for a conn that cannot
// batch) and of rxBatchSize, shared by all endpoints, so that making one
// (a connection, in a sense) does not make its buffers anew.
var rxPools = [2]sync.Pool{
	{New: func() any { return newRxBatch(1) }},
	{New: func() any { return newRxBatch(rxBatchSize) }},
}

func newRxBatch(size int) *rxBatch {
	b := &rxBatch{ms: make([]udp.Message, size)}
	// One allocation for the batch's buffers, each one byte over the
	// largest datagram, to see an oversized one: freed whole, with no size
	// class rounding each up.
	const n = wire.MaxPathDatagram + 1
	slab := make([]byte, size*n)
	for i := range b.ms {
		b.ms[i].Buf = slab[i*n : (i+1)*n : (i+1)*n]
	}
	return b
}

// Batches: rxBatchSize datagrams a read, txBatchSize a write, at most.
// Batches holding up to rxQueue datagrams' buffers may wait for run; then
// the reader waits, and datagrams wait in the socket's buffer.
const (
	rxBatchSize     = 32
	txBatchSize     = 64
	rxQueue         = 256
	singlesPerProbe = 8
)

// handOff runs add, which leaves run some work, under e.mu and wakes run,
// unless the endpoint is closing.
func (e *Endpoint) handOff(add func()) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return ErrClosed
	}
	add()
	e.signal()
	return nil
}

// signal wakes run; e.mu must be held.
func (e *Endpoint) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// read is the socket's reader: it hands what each read brings to run, in
// one channel send.
//
// A batch read costs a failed attempt at a second datagram when only one
// is waiting (about a microsecond on loopback: more than it saves). So
// while reads bring one datagram at a time, as in a conversation, the
// reader reads one at a time, and tries a batch only every
// singlesPerProbe reads; while batches bring several, it goes on batching.
func (e *Endpoint) read(done chan<- struct{}) {
	defer close(done)
	singles := 0 // reads in a row that brought one datagram
	for {
		b := e.rxPool.Get().(*rxBatch)
		var err error
		if e.bc != nil && singles%singlesPerProbe == 0 {
			b.n, err = e.bc.ReadBatch(b.ms)
		} else {
			b.n = 1
			b.ms[0].N, b.ms[0].Addr, err = e.conn.ReadFrom(b.ms[0].Buf)
		}
		if b.n == 1 {
			singles++
		} else {
			singles = 0
		}
		if err != nil {
			e.rxPool.Put(b)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Debug("read", "err", err)
			continue
		}
		e.rx <- b
	}
}

// run owns all peer state. It exits once the reader has (Close closes the
// socket), after the goodbyes.
func (e *Endpoint) run(readerDone <-chan struct{}) {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	closeRq := e.closeRq
	for {
		now := time.Now()
		if next := e.nextDeadline(); !next.IsZero() {
			timer.Reset(max(next.Sub(now), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case b := <-e.rx:
			e.handleBatch(b)
			e.handleQueued()
		case <-e.wake:
			e.takeHandoffs()
		case <-timer.C:
			// What has arrived happened before the timer is looked at: an
			// ACK already in the queue must not let a probe go out.
			e.handleQueued()
			e.onTimers(time.Now())
		case reply := <-e.statsRq:
			reply <- e.peerStats()
		case <-closeRq:
			closeRq = nil
			e.takeHandoffs()
			e.startLeaving()
		case <-readerDone:
			e.drainRx()
			return
		}
		e.endRound(time.Now())
		if e.leaving && e.everyoneHeardGoodbye() {
			e.leaving = false
			close(e.closed)
		}
	}
}

// endRound ends a round of the run loop: what the handler took is made
// durable, then every peer is sent what it is due (ACKs saying so among
// it), written in one batch where the conn can.
func (e *Endpoint) endRound(now time.Time) {
	e.sync(now)
	for _, p := range e.peers {
		e.flush(p, now)
	}
	e.writeOut()
}

// handleQueued handles every datagram already waiting, so that one ACK
// covers a burst and timers see everything that has arrived.
func (e *Endpoint) handleQueued() {
	for {
		select {
		case b := <-e.rx:
			e.handleBatch(b)
		default:
			return
		}
	}
}

// handleBatch handles the datagrams of one read, and recycles the batch.
func (e *Endpoint) handleBatch(b *rxBatch) {
	now := time.Now()
	for _, m := range b.ms[:b.n] {
		e.handle(m.Buf[:m.N], m.Addr, now)
	}
	e.rxPool.Put(b)
}

func (e *Endpoint) drainRx() {
	for {
		select {
		case b := <-e.rx:
			e.rxPool.Put(b)
		default:
			return
		}
	}
}

func (e *Endpoint) nextDeadline() time.Time {
	var t time.Time
	at := func(d time.Time) {
		if !d.IsZero() && (t.IsZero() || d.Before(t)) {
			t = d
		}
	}
	if e.unsynced {
		at(e.syncRetryAt)
	}
	for _, p := range e.peers {
		at(p.nextDeadline(&e.cfg))
		if !p.pinned && !e.leaving {
			at(p.heard().Add(e.forgetAfter(p)))
		}
	}
	return t
}

// takeHandoffs moves what Send and Connect left into the peers' state.
func (e *Endpoint) takeHandoffs() {
	e.mu.Lock()
	sends, connects, forgets, roams := e.incoming, e.connects, e.forgets, e.roams
	// Hand Send the emptied slices of the last round, so that a steady
	// stream of sends does not grow new ones.
	e.incoming, e.connects, e.forgets, e.roams = e.spareIncoming[:0], e.spareConnects[:0], nil, nil
	e.mu.Unlock()
	defer func() {
		clear(sends)
		e.spareIncoming, e.spareConnects = sends, connects
	}()
	now := time.Now()
	for _, addr := range connects {
		if p := e.peer(addr, now); p != nil {
			p.wantContact, p.pinned = true, true
		}
	}
	for _, s := range sends {
		p := e.peer(s.peer, now)
		if p == nil {
			e.queued.Add(-int64(len(s.msg.data)))
			e.log.Debug("send: peer table full", "peer", s.peer)
			freeOutMessage(s.msg)
			continue
		}
		p.enqueue(s.msg)
	}
	for _, r := range roams {
		e.roamer.PeerRoamed(r.peer, r.endpoint)
	}
	// Last: a Forget undoes the Sends and Connects handed over with it,
	// which the caller made before it (chat forgets a peer it no longer
	// sends to).
	for _, addr := range forgets {
		if p := e.peers[addr]; p != nil {
			e.forget(p)
		}
	}
}

// peer returns the state for addr, creating it if there is room, or if a
// peer may be evicted to make room (see Config.MaxPeers).
func (e *Endpoint) peer(addr netip.AddrPort, now time.Time) *peer {
	if p := e.peers[addr]; p != nil {
		return p
	}
	if len(e.peers) >= e.cfg.MaxPeers {
		victim := e.evictable(now)
		if victim == nil {
			e.count.drops[DropTooManyPeers].Add(1)
			return nil
		}
		e.count.evicted.Add(1)
		e.log.Debug("peer table full: evicting the longest silent", "peer", victim.addr, "for", addr)
		e.forget(victim)
		e.h.PeerGone(victim.addr)
	}
	p := newPeer(addr, e.receive, e.onConsumed)
	p.localEpoch = e.epoch + e.made
	e.made++
	p.contactDue, p.created = now, now
	e.peers[addr] = p
	return p
}

// evictable is the peer a newcomer may replace in a full table: of those
// not pinned and silent for at least EvictAfter, the one silent longest;
// nil if there is none. It looks at every peer, which is bounded, and done
// only when the table is full.
func (e *Endpoint) evictable(now time.Time) *peer {
	var victim *peer
	for _, p := range e.peers {
		if p.pinned || now.Sub(p.heard()) < e.cfg.EvictAfter {
			continue
		}
		if victim == nil || p.heard().Before(victim.heard()) {
			victim = p
		}
	}
	return victim
}

// forget drops p and what is queued for it, and tells the conn below.
func (e *Endpoint) forget(p *peer) {
	for p.queue.len() > 0 {
		m := p.queue.pop()
		e.queued.Add(-int64(len(m.data)))
		freeOutMessage(m)
	}
	p.reasm.reset()
	delete(e.peers, p.addr)
	if f, ok := e.conn.(Forgetter); ok {
		f.Forget(p.addr)
	}
}

func (e *Endpoint) startLeaving() {
	e.leaving = true
	for _, p := range e.peers {
		p.closeWanted = true
		if p.established() {
			p.closePending = true
		}
	}
}

func (e *Endpoint) everyoneHeardGoodbye() bool {
	for _, p := range e.peers {
		if p.established() && !p.closeAcked {
			return false
		}
	}
	return true
}

// onConsumed is called for each message a peer reports consumed.
func (e *Endpoint) onConsumed(p *peer, m *outMessage) {
	e.queued.Add(-int64(len(m.data)))
	e.h.Delivered(p.addr, m.ref)
	e.unsynced = true
}

// receive hands a message from peer to the handler. Taken, it counts as
// consumed only after the next sync.
func (e *Endpoint) receive(peer netip.AddrPort, msg []byte) error {
	if err := e.h.Receive(peer, msg); err != nil {
		return err
	}
	e.unsynced = true
	return nil
}

// syncRetry is how long after a failed Sync the handler is asked again:
// the peers' messages wait, acknowledged as held but not as consumed, so
// they are neither lost nor sent again; a failing disk must not be asked
// once a datagram.
const syncRetry = 100 * time.Millisecond

// sync makes what the handler took this round durable (link.Syncer),
// before any ACK tells a peer it was consumed, and then lets the ACKs say
// so: one commit for a burst, not one a message. If Sync fails, the peers
// hear nothing new until a later Sync succeeds.
func (e *Endpoint) sync(now time.Time) {
	if !e.unsynced || now.Before(e.syncRetryAt) {
		return
	}
	if e.syncer != nil {
		if err := e.syncer.Sync(); err != nil {
			e.count.syncFailures.Add(1)
			e.log.Debug("sync failed: what arrived is held, not yet acknowledged as consumed", "err", err)
			e.syncRetryAt = now.Add(syncRetry)
			return
		}
		e.count.syncs.Add(1)
	}
	retried := !e.syncRetryAt.IsZero()
	e.unsynced, e.syncRetryAt = false, time.Time{}
	for _, p := range e.peers {
		if p.synced != p.reasm.next {
			p.synced = p.reasm.next
			// After a failure, nothing else would tell the peer soon.
			p.ackNow = p.ackNow || retried
		}
	}
}

func (e *Endpoint) onTimers(now time.Time) {
	for _, p := range e.peers {
		if e.forgettable(p, now) {
			e.count.forgotten.Add(1)
			e.log.Debug("forgetting a silent peer", "peer", p.addr, "silent", now.Sub(p.heard()))
			e.forget(p) // deleting during range is safe
			e.h.PeerGone(p.addr)
			continue
		}
		e.onPeerTimers(p, now)
	}
}

// forgettable reports whether p is due to be forgotten: not pinned, and
// silent for forgetAfter. While we leave, peers are kept to hear goodbye.
func (e *Endpoint) forgettable(p *peer, now time.Time) bool {
	return !p.pinned && !e.leaving && !now.Before(p.heard().Add(e.forgetAfter(p)))
}

// forgetAfter is how long p may be silent before it is forgotten: a peer
// that never sent us a message (a handshake and a contact, say) and has
// none of ours queued is forgotten as soon as it is unreachable; others
// after Config.ForgetAfter.
func (e *Endpoint) forgetAfter(p *peer) time.Duration {
	if p.stats.MessagesIn == 0 && p.queue.len() == 0 {
		return e.cfg.IdleTimeout
	}
	return e.cfg.ForgetAfter
}

func (e *Endpoint) onPeerTimers(p *peer, now time.Time) {
	if p.remoteEpoch == 0 {
		return // flush sends the contact PING when it is due
	}
	if !p.ackDeadline.IsZero() && !now.Before(p.ackDeadline) {
		p.ackNow = true
	}
	if p.closed {
		return
	}
	if !p.retryAt.IsZero() && !now.Before(p.retryAt) {
		p.retryDelivery(now)
	}
	if !p.lossTime.IsZero() {
		if !now.Before(p.lossTime) {
			p.detectLosses(now)
		}
	} else if t := p.ptoDeadline(); !t.IsZero() && !now.Before(t) {
		p.onPTO()
	}
	if !now.Before(p.lastElicit.Add(e.cfg.KeepaliveInterval)) {
		p.pingNeeded = true
	}
	if !p.unreachable && !now.Before(p.lastHeard.Add(e.cfg.IdleTimeout)) {
		p.unreachable = true
		e.h.PeerUnreachable(p.addr)
	}
}

func (e *Endpoint) peerStats() []link.PeerStats {
	out := make([]link.PeerStats, 0, len(e.peers))
	for _, p := range e.peers {
		s := p.stats
		s.Addr = p.addr
		s.Established = p.established()
		s.Reachable = p.remoteEpoch != 0 && !p.unreachable
		s.Closed = p.closed
		s.SmoothedRTT = p.rtt.smoothed
		s.MinRTT = p.rtt.min
		s.PathRTT, s.PathMinRTT = p.rtt.pathSmoothed, p.rtt.pathMin
		s.Window = p.cc.cwnd()
		s.InFlight = p.cc.bytesInFlight()
		s.Queued = p.queue.len()
		s.MaxPacket = p.pmtu.current
		s.ProbesLost = p.pmtu.probesLost
		s.BlackHoles = p.pmtu.blackHoles
		out = append(out, s)
	}
	return out
}
