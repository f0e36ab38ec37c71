package transport

import (
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// outMessage is a message on its way to a peer. It stays in the peer's queue
// until the peer reports it consumed, so that if the peer restarts it can be
// sent again in the new session.
type outMessage struct {
	ref       uint64
	seq       uint64 // in the current session; renumbered when a new one starts
	data      []byte
	chunks    int
	nextChunk int // chunks before it have been sent at least once
	acked     chunkSet
	done      bool // consumed by the peer: its chunks need no more sending
}

type chunkSet [wire.MaxMessageLen/wire.ChunkSize/64 + 1]uint64

func (s *chunkSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s *chunkSet) add(i int)      { s[i/64] |= 1 << (i % 64) }

func (m *outMessage) chunk(i int) wire.ChunkFrame {
	off := i * wire.ChunkSize
	return wire.ChunkFrame{
		Seq:    m.seq,
		MsgLen: uint64(len(m.data)),
		Offset: uint64(off),
		Data:   m.data[off:min(off+wire.ChunkSize, len(m.data))],
	}
}

type chunkRef struct {
	msg   *outMessage
	index int
}

// sentPacket remembers an ack-eliciting packet until it is acknowledged or
// declared lost. Packets are never retransmitted as such: their chunks and
// CLOSE are, in new packets with new numbers.
type sentPacket struct {
	pn       uint64
	sentAt   time.Time
	size     int
	hasClose bool
	chunks   []chunkRef
}

// peer is the state of our sessions with one address. It is owned by the
// endpoint's run goroutine; nothing else touches it.
type peer struct {
	addr    netip.AddrPort
	deliver func([]byte) error // hands a reassembled message to the handler

	// remoteEpoch is the peer's incarnation we are in session with; 0 until
	// we hear from it. closed is set when that incarnation said goodbye.
	remoteEpoch uint64
	closed      bool

	lastHeard   time.Time
	unreachable bool

	// Before we know the peer's epoch we send it padded PINGs (dst epoch 0)
	// with exponential backoff, if we want to talk to it.
	wantContact  bool
	contactDue   time.Time
	contactDelay time.Duration

	// Sending, in the current session.
	nextPN       uint64
	queue        []*outMessage // undelivered, in sequence order
	nextSeq      uint64
	delivered    uint64 // the peer consumed every message below this
	sendIdx      int    // queue index of the first message with unsent chunks
	startedBytes int    // window cost of queued messages that have started going out
	lost         []chunkRef
	sent         []*sentPacket // ack-eliciting, in flight, by packet number
	free         []*sentPacket
	largestAcked uint64
	anyAcked     bool
	rtt          rttStats
	cc           newReno
	ptoCount     int
	lossTime     time.Time
	lastElicit   time.Time // when we last sent an ack-eliciting packet
	probes       int       // packets that may go out regardless of the window
	pingNeeded   bool
	closeWanted  bool // we are leaving
	closePending bool // a CLOSE frame must be (re)sent
	closeAcked   bool

	// Receiving, in the current session.
	received    receivedSet
	reasm       reassembly
	ackPending  int // ack-eliciting packets not yet acknowledged
	ackNow      bool
	ackDeadline time.Time
	// largestRecvAt is when the largest packet number arrived: ACK delays
	// are measured from it.
	largestRecvAt time.Time

	stats PeerStats
}

func newPeer(addr netip.AddrPort, deliver func(netip.AddrPort, []byte) error) *peer {
	p := &peer{addr: addr, cc: newNewReno(), contactDelay: initialContactDelay}
	p.deliver = func(b []byte) error {
		if err := deliver(addr, b); err != nil {
			return err
		}
		p.stats.MessagesIn++
		return nil
	}
	return p
}

// initialContactDelay is how long we wait for an answer to our first PING
// before sending another; it doubles up to maxPTO.
const initialContactDelay = time.Second

func (p *peer) established() bool { return p.remoteEpoch != 0 && !p.closed }

// startSession begins a session with a new incarnation of the peer.
// Undelivered messages stay queued, renumbered from zero, and go out again
// in full: the new incarnation has none of them.
func (p *peer) startSession(epoch uint64) {
	p.remoteEpoch = epoch
	p.closed = false
	p.unreachable = false
	p.stats.Sessions++
	for i, m := range p.queue {
		m.seq = uint64(i)
		m.nextChunk = 0
		m.acked = chunkSet{}
	}
	p.nextSeq = uint64(len(p.queue))
	p.delivered = 0
	p.sendIdx = 0
	p.startedBytes = 0
	p.lost = p.lost[:0]
	for _, sp := range p.sent {
		p.recycle(sp)
	}
	p.sent = p.sent[:0]
	p.anyAcked = false
	p.largestAcked = 0
	p.cc = newNewReno()
	p.ptoCount = 0
	p.lossTime = time.Time{}
	p.probes = 0
	p.pingNeeded = true // so the peer learns our epoch even if we have nothing to say
	p.closePending = p.closeWanted
	p.closeAcked = false
	p.received.reset()
	p.reasm.reset()
	p.ackPending = 0
	p.ackNow = false
	p.ackDeadline = time.Time{}
}

// enqueue adds a message to the current session.
func (p *peer) enqueue(m *outMessage) {
	m.seq = p.nextSeq
	p.nextSeq++
	p.queue = append(p.queue, m)
	p.wantContact = true
}

// onDelivered drops the messages the peer reports consumed, handing each to done.
func (p *peer) onDelivered(upTo uint64, done func(*outMessage)) {
	for p.delivered < upTo {
		m := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.sendIdx--
		p.startedBytes -= windowCost(len(m.data))
		p.delivered++
		m.done = true
		p.stats.MessagesOut++
		done(m)
	}
}

func (p *peer) newSentPacket() *sentPacket {
	if n := len(p.free); n > 0 {
		sp := p.free[n-1]
		p.free = p.free[:n-1]
		return sp
	}
	return &sentPacket{}
}

func (p *peer) recycle(sp *sentPacket) {
	clear(sp.chunks)
	*sp = sentPacket{chunks: sp.chunks[:0]}
	p.free = append(p.free, sp)
}

// ptoDeadline is when the probe timer fires, or zero if nothing is in flight.
func (p *peer) ptoDeadline() time.Time {
	if len(p.sent) == 0 {
		return time.Time{}
	}
	d := p.rtt.pto() << min(p.ptoCount, 16)
	return p.lastElicit.Add(min(d, maxPTO))
}

// onPTO arms probes: the oldest unacknowledged chunks go out again, or a
// PING if there are none (RFC 9002 section 6.2.4).
func (p *peer) onPTO() {
	p.ptoCount++
	p.probes = 2
	if len(p.lost) > 0 {
		return
	}
	for _, sp := range p.sent {
		for _, c := range sp.chunks {
			if !c.msg.done && !c.msg.acked.has(c.index) {
				p.lost = append(p.lost, c)
			}
		}
		if len(p.lost) > 0 || sp.hasClose {
			p.closePending = p.closePending || sp.hasClose
			return
		}
	}
	p.pingNeeded = true
}

// onAck processes an ACK frame. It reports false if the frame acknowledges a
// packet never sent or messages never sent whole: such a packet is dropped.
func (p *peer) onAck(a *wire.AckFrame, now time.Time, done func(*outMessage)) bool {
	if a.Largest() >= p.nextPN || a.Delivered > p.delivered+uint64(p.sendIdx) {
		return false
	}
	var newestAcked *sentPacket
	kept := p.sent[:0]
	for _, sp := range p.sent {
		if !a.Acks(sp.pn) {
			kept = append(kept, sp)
			continue
		}
		p.cc.onAcked(sp.size, sp.sentAt)
		for _, c := range sp.chunks {
			c.msg.acked.add(c.index)
		}
		if sp.hasClose {
			p.closeAcked = true
			p.closePending = false
		}
		if newestAcked != nil {
			p.recycle(newestAcked)
		}
		newestAcked = sp
	}
	clear(p.sent[len(kept):])
	p.sent = kept
	if newestAcked != nil {
		if newestAcked.pn == a.Largest() {
			p.rtt.update(now.Sub(newestAcked.sentAt), time.Duration(a.DelayMicros)*time.Microsecond)
		}
		p.recycle(newestAcked)
		p.ptoCount = 0
	}
	if !p.anyAcked || a.Largest() > p.largestAcked {
		p.largestAcked = a.Largest()
		p.anyAcked = true
	}
	if a.Delivered > p.delivered {
		p.onDelivered(a.Delivered, done)
	}
	p.detectLosses(now)
	return true
}

// packetThreshold is how many later packets must be acknowledged before an
// earlier one counts as lost (RFC 9002 section 6.1.1).
const packetThreshold = 3

// detectLosses declares lost the in-flight packets that later
// acknowledgements have overtaken by packetThreshold packets or by the loss
// delay, and sets the loss timer for the rest (RFC 9002 section 6.1).
func (p *peer) detectLosses(now time.Time) {
	p.lossTime = time.Time{}
	if !p.anyAcked {
		return
	}
	delay := p.rtt.lossDelay()
	kept := p.sent[:0]
	for _, sp := range p.sent {
		if sp.pn > p.largestAcked {
			kept = append(kept, sp)
			continue
		}
		if now.Sub(sp.sentAt) >= delay || p.largestAcked >= sp.pn+packetThreshold {
			p.onLost(sp, now)
			continue
		}
		kept = append(kept, sp)
		if t := sp.sentAt.Add(delay); p.lossTime.IsZero() || t.Before(p.lossTime) {
			p.lossTime = t
		}
	}
	clear(p.sent[len(kept):])
	p.sent = kept
}

func (p *peer) onLost(sp *sentPacket, now time.Time) {
	p.stats.PacketsLost++
	p.cc.onLost(sp.size, sp.sentAt, now)
	for _, c := range sp.chunks {
		if !c.msg.done && !c.msg.acked.has(c.index) {
			p.lost = append(p.lost, c)
		}
	}
	if sp.hasClose && !p.closeAcked {
		p.closePending = true
	}
	p.recycle(sp)
}

// nextDeadline is the earliest time the peer needs the run loop's attention,
// or zero.
func (p *peer) nextDeadline(cfg *Config) time.Time {
	var t time.Time
	at := func(d time.Time) {
		if !d.IsZero() && (t.IsZero() || d.Before(t)) {
			t = d
		}
	}
	// Every deadline here must be one that handling moves on, or the run
	// loop would spin.
	if p.remoteEpoch == 0 {
		if p.wantContact && !p.closeWanted {
			at(p.contactDue)
		}
		return t
	}
	at(p.ackDeadline)
	if p.closed {
		return t
	}
	if !p.lossTime.IsZero() {
		at(p.lossTime)
	} else {
		at(p.ptoDeadline())
	}
	if !p.pingNeeded {
		at(p.lastElicit.Add(cfg.KeepaliveInterval))
	}
	if !p.unreachable {
		at(p.lastHeard.Add(cfg.IdleTimeout))
	}
	return t
}
