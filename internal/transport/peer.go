package transport

import (
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/wire"
)

// outMessage is a message on its way to a peer. It stays in the peer's queue
// until the peer reports it consumed, so that if the peer restarts it can be
// sent again in the new session; then it is recycled (freeOutMessage).
type outMessage struct {
	ref       uint64
	seq       uint64 // in the current session; renumbered when a new one starts
	data      []byte
	chunks    int
	nextChunk int // chunks before it have been sent at least once
	acked     chunkSet
	bulk      bool // SendBulk's: other messages may overtake it until it begins to go
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

// chunkRef names a chunk of a queued message by the message's sequence
// number, not by pointer: a message the peer has consumed is recycled, and
// a reference to it (in a packet still in flight, or in the lost list) must
// find nothing rather than a new message in the same memory.
type chunkRef struct {
	seq   uint64
	index int
}

// peer is the state of our sessions with one address. It is owned by the
// endpoint's run goroutine; nothing else touches it.
type peer struct {
	addr    netip.AddrPort
	deliver func([]byte) error // hands a reassembled message to the handler
	// consumed is called for each message the peer reports consumed; the
	// message is recycled after it returns.
	consumed func(*outMessage)

	// localEpoch is the epoch we go by with this peer: the endpoint's,
	// plus how many peer states it made before this one. A peer we forgot
	// and hear from again thus meets a new incarnation of us, and starts a
	// new session, sending again what we had not consumed: without it, it
	// would go on numbering its messages where our forgotten state left
	// off, and we would wait for the earlier ones for ever.
	localEpoch uint64
	// remoteEpoch is the peer's incarnation we are in session with; 0 until
	// we hear from it. closed is set when that incarnation said goodbye.
	remoteEpoch uint64
	closed      bool

	// pinned says our user asked for this peer (Endpoint.Connect): it is
	// never forgotten or evicted for being silent.
	pinned      bool
	created     time.Time
	lastHeard   time.Time
	unreachable bool

	// Before we know the peer's epoch we send it padded PINGs (dst epoch 0)
	// with exponential backoff, if we want to talk to it.
	wantContact  bool
	contactDue   time.Time
	contactDelay time.Duration

	// Sending, in the current session.
	nextPN       uint64
	queue        ring[*outMessage] // undelivered, in sequence order: queue.at(i).seq == delivered+i
	nextSeq      uint64
	delivered    uint64 // the peer consumed every message below this
	sendIdx      int    // queue index of the first message with unsent chunks
	startedBytes int    // window cost of queued messages that have started going out
	lost         ring[chunkRef]
	sent         []*sentPacket // ack-eliciting, in flight, by packet number
	free         []*sentPacket
	largestAcked uint64
	anyAcked     bool
	rtt          rttStats
	cc           congestionControl
	pmtu         pathMTU
	ptoCount     int
	tailProbed   bool // the tail loss probe of this flight went; cleared by an ACK
	lossTime     time.Time
	lastElicit   time.Time // when we last sent an ack-eliciting packet
	probes       int       // packets that may go out regardless of the window
	pingNeeded   bool
	closeWanted  bool // we are leaving
	closePending bool // a CLOSE frame must be (re)sent
	closeAcked   bool

	// Receiving, in the current session.
	received receivedSet
	reasm    reassembly
	// synced is what we tell the peer we consumed (ACK Delivered): every
	// message below it the handler took, and synced (see Endpoint.sync).
	synced      uint64
	ackPending  int // ack-eliciting packets not yet acknowledged
	ackNow      bool
	ackDeadline time.Time
	// retryAt is when to offer the handler again the message it refused
	// (see reassembly.stalled), zero if none waits; retryDelay, the wait
	// before that, doubles up to retryDeliverMax.
	retryAt    time.Time
	retryDelay time.Duration
	// largestRecvAt is when the largest packet number arrived: ACK delays
	// are measured from it.
	largestRecvAt time.Time

	stats link.PeerStats
}

func newPeer(addr netip.AddrPort, deliver func(netip.AddrPort, []byte) error, consumed func(*peer, *outMessage)) *peer {
	p := &peer{addr: addr, cc: newController(), contactDelay: initialContactDelay}
	// Made once per peer, so that handling a packet makes no closure.
	p.deliver = func(b []byte) error {
		if err := deliver(addr, b); err != nil {
			return err
		}
		p.stats.MessagesIn++
		return nil
	}
	p.consumed = func(m *outMessage) { consumed(p, m) }
	return p
}

// msg is the queued message with sequence number seq, or nil if the peer
// has consumed it (and it may have been recycled).
func (p *peer) msg(seq uint64) *outMessage {
	if seq < p.delivered {
		return nil
	}
	return p.queue.at(int(seq - p.delivered))
}

// needsSending reports whether chunk c has to go (again): its message is
// not consumed and the chunk not acknowledged.
func (p *peer) needsSending(c chunkRef) bool {
	m := p.msg(c.seq)
	return m != nil && !m.acked.has(c.index)
}

// A message the handler refuses (see reassembly.stalled) is offered again
// retryDeliverMin later, and then at doubling intervals up to
// retryDeliverMax, until it is taken: a disk that fills refuses every
// write until someone frees space, which takes a person seconds at least,
// and then the messages go within retryDeliverMax, with one failed write
// per peer that often meanwhile.
const (
	retryDeliverMin = 100 * time.Millisecond
	retryDeliverMax = 2 * time.Second
)

// refused arms the retry of a refused message, unless it is armed.
func (p *peer) refused(now time.Time) {
	if p.retryAt.IsZero() {
		p.retryDelay = retryDeliverMin
		p.retryAt = now.Add(p.retryDelay)
	}
}

// retryDelivery offers the refused message (and those after it) again.
// Once it is taken, the peer hears at once what we consumed; until then,
// the wait doubles.
func (p *peer) retryDelivery(now time.Time) {
	if p.reasm.retry(p.deliver) {
		p.retryAt, p.retryDelay = time.Time{}, 0
		p.ackNow = true
		return
	}
	p.retryDelay = min(2*p.retryDelay, retryDeliverMax)
	p.retryAt = now.Add(p.retryDelay)
}

// initialContactDelay is how long we wait for an answer to our first PING
// before sending another; it doubles up to maxPTO.
const initialContactDelay = time.Second

func (p *peer) established() bool { return p.remoteEpoch != 0 && !p.closed }

// heard is when we last heard from the peer, or made its state if never.
func (p *peer) heard() time.Time {
	if p.lastHeard.IsZero() {
		return p.created
	}
	return p.lastHeard
}

// startSession begins a session with a new incarnation of the peer.
// Undelivered messages stay queued, renumbered from zero, and go out again
// in full: the new incarnation has none of them. Packets start at base
// bytes, and path MTU discovery searches up to ceiling from now: the new
// incarnation may be a new program, which takes less.
func (p *peer) startSession(epoch uint64, base, ceiling int, now time.Time) {
	p.remoteEpoch = epoch
	p.closed = false
	p.unreachable = false
	p.stats.Sessions++
	for i := range p.queue.len() {
		m := p.queue.at(i)
		m.seq = uint64(i)
		m.nextChunk = 0
		m.acked = chunkSet{}
	}
	p.nextSeq = uint64(p.queue.len())
	p.delivered = 0
	p.sendIdx = 0
	p.startedBytes = 0
	p.lost.reset()
	for _, sp := range p.sent {
		p.recycle(sp)
	}
	p.sent = p.sent[:0]
	p.anyAcked = false
	p.largestAcked = 0
	p.cc.reset()
	p.pmtu.reset(base, ceiling, now)
	p.cc.setMaxPacket(base)
	p.ptoCount = 0
	p.tailProbed = false
	p.lossTime = time.Time{}
	p.probes = 0
	p.pingNeeded = true // so the peer learns our epoch even if we have nothing to say
	p.closePending = p.closeWanted
	p.closeAcked = false
	p.received.reset()
	p.reasm.reset()
	p.synced = 0
	p.ackPending = 0
	p.ackNow = false
	p.ackDeadline = time.Time{}
	p.retryAt, p.retryDelay = time.Time{}, 0
}

// enqueue adds a message to the current session: at the end, or, if it is
// not bulk, before the bulk messages at the end that have not begun to go.
// Those have sequence numbers the peer has never seen (none of their chunks
// went), so they move up one, and the queue stays in sequence order.
func (p *peer) enqueue(m *outMessage) {
	p.queue.push(m)
	i := p.queue.len() - 1
	for ; !m.bulk && i > p.sendIdx; i-- {
		prev := p.queue.at(i - 1)
		if !prev.bulk || prev.nextChunk > 0 {
			break
		}
		prev.seq++
		p.queue.set(i, prev)
	}
	p.queue.set(i, m)
	m.seq = p.delivered + uint64(i)
	p.nextSeq++
	p.wantContact = true
}

// onDelivered drops the messages the peer reports consumed, handing each to
// p.consumed, and recycles them.
func (p *peer) onDelivered(upTo uint64) {
	for p.delivered < upTo {
		m := p.queue.pop()
		p.sendIdx--
		p.startedBytes -= windowCost(len(m.data))
		p.delivered++
		p.stats.MessagesOut++
		p.consumed(m)
		freeOutMessage(m)
	}
}

// limitedTransmit is how far past the congestion window the flight may go
// while packets are suspected lost: acknowledged packets sent after them
// have left the network, so new packets may replace them, and their
// acknowledgements let the packet threshold declare the loss without
// waiting for a timer. This is Limited Transmit (RFC 3042) in RFC 9002's
// terms; without it a small window (a lossy path) fills with suspects and
// every loss costs a loss timer, which Go cannot arm for less than a
// millisecond, however short the round trip. In packets of the path's size.
const limitedTransmit = 2

// maxPacket is the largest packet to build now: the size path MTU
// discovery confirmed, but the base size for the packets a probe timeout
// sends (see onPTO). Besides, a path that stopped carrying the size found
// loses every packet of it, acknowledges nothing, and so never declares
// one lost; a small packet that gets through is acknowledged, which
// declares the large ones before it lost, and that is a black hole
// (pathMTU.onLost).
func (p *peer) maxPacket() int {
	if p.probes > 0 && p.ptoCount >= 1 {
		return p.pmtu.base
	}
	return p.pmtu.current
}

// canSend reports whether the congestion window lets a full packet go.
func (p *peer) canSend() bool {
	extra := 0
	if !p.lossTime.IsZero() {
		extra = limitedTransmit * p.pmtu.current
	}
	return p.cc.canSend(extra)
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
	at(p.retryAt)
	if !p.closeWanted && p.canSend() { // else an ACK opens the window, and flush sends the probe
		at(p.pmtu.probeDeadline())
	}
	if !p.pingNeeded {
		at(p.lastElicit.Add(cfg.KeepaliveInterval))
	}
	if !p.unreachable {
		at(p.lastHeard.Add(cfg.IdleTimeout))
	}
	return t
}
