// Package transport gives each peer a reliable, ordered message session over
// a udp.Conn: messages of up to MaxMessage bytes arrive exactly once, whole
// and in order, despite loss, duplication, reordering and delay.
//
// Messages are cut into fixed-size chunks carried in numbered packets. Loss
// recovery follows RFC 9002: packet numbers only go up, acknowledgements
// carry ranges, a packet is lost when three later ones are acknowledged or
// 9/8 of an RTT has passed, a tail loss probe and then a probe timeout that
// backs off exponentially find a lost tail; the chunks of a lost packet go
// out again in new packets. A CUBIC congestion window (RFC 9438) bounds what
// is in flight. Each side names its incarnation with an
// epoch, so a peer that restarts gets a fresh session and the messages it had
// not yet consumed. docs/PROTOCOL.md has the byte layout and state machine.
//
// One goroutine (run) owns every peer's state; a second reads the socket.
// Send and Connect hand work to run through a mutex-guarded list and a wake
// channel, so a Handler may call them.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// Handler is what an Endpoint calls as things happen (link.Handler says
// what each call means). Calls come from the endpoint's run goroutine, one
// at a time, never while it holds a lock that Send or Connect take. The msg
// Receive gets is only valid during the call: its memory is the endpoint's,
// and is reused.
//
// A message counts as consumed, and the peer is told so, only when Receive
// returns nil; on an error the endpoint keeps it and offers it again when
// the peer resends, so nothing is lost if, say, the disk is full for a while.
type Handler = link.Handler

// Config tunes an Endpoint; the zero value gives the defaults.
type Config struct {
	// KeepaliveInterval is how long a session may go without an
	// ack-eliciting packet from us before we send a PING. Default 5s.
	KeepaliveInterval time.Duration
	// IdleTimeout is how long a peer may be silent before it counts as
	// unreachable. Default 15s (three keepalives).
	IdleTimeout time.Duration
	// MaxPeers bounds the peer table. A new address past it takes the
	// place of the peer we have not heard from for longest, if that one is
	// not pinned (Connect) and has been silent for at least EvictAfter;
	// else its datagrams are dropped. Default 1024.
	MaxPeers int
	// ForgetAfter is how long a peer that is not pinned may stay silent
	// before the endpoint forgets it (Handler.PeerGone): its queue and
	// state go, and no more keepalives go to it. An address that contacted
	// us and went away must not cost us datagrams and memory for ever.
	// Default 4 × IdleTimeout (one minute). A peer that never sent us a
	// message and has none of ours queued goes after IdleTimeout.
	ForgetAfter time.Duration
	// EvictAfter is how long a peer that is not pinned must have been
	// silent before a new address may take its place in a full table: a
	// peer in the middle of a conversation is heard from every keepalive
	// at least, so a burst of newcomers never evicts it. Default 1s.
	EvictAfter time.Duration
	// MaxQueued bounds the bytes of messages waiting for delivery, over all
	// peers; Send fails with ErrQueueFull past it. Default 64 MiB.
	MaxQueued int
	// MaxPacket is the largest packet the endpoint writes: wire.MaxDatagram
	// less what the layer below adds (encryption). Default wire.MaxDatagram;
	// it must leave room for a whole chunk (wire.MinPacket).
	MaxPacket int
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.KeepaliveInterval <= 0 {
		c.KeepaliveInterval = 5 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 3 * c.KeepaliveInterval
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 1024
	}
	if c.ForgetAfter <= 0 {
		c.ForgetAfter = 4 * c.IdleTimeout
	}
	if c.EvictAfter <= 0 {
		c.EvictAfter = time.Second
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = 64 << 20
	}
	if c.MaxPacket <= 0 {
		c.MaxPacket = wire.MaxDatagram
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// MaxMessage is the largest message Send accepts.
const MaxMessage = wire.MaxMessageLen

// Errors from Send.
var (
	ErrTooBig    = fmt.Errorf("transport: message over %d bytes", MaxMessage)
	ErrEmpty     = errors.New("transport: empty message")
	ErrQueueFull = errors.New("transport: too much is waiting to be sent")
	ErrClosed    = errors.New("transport: endpoint closed")
)

// Endpoint is one socket's worth of peer sessions.
type Endpoint struct {
	conn  udp.Conn
	h     Handler
	cfg   Config
	log   *slog.Logger
	epoch uint64

	// mu guards the hand-off from Send and Connect to run.
	mu       sync.Mutex
	incoming []sendRequest
	connects []netip.AddrPort
	forgets  []netip.AddrPort
	closing  bool

	wake    chan struct{} // capacity 1: run has hand-offs to take
	rx      chan *rxBatch
	rxPool  *sync.Pool // of *rxBatch: rxPools[0] or [1]
	statsRq chan chan []PeerStats
	closeRq chan struct{}
	closed  chan struct{} // run has finished closing; peers heard us or time ran out
	done    chan struct{} // run and the reader have exited
	queued  atomic.Int64  // bytes of undelivered messages
	nextRef atomic.Uint64
	count   counters

	// bc is conn if it can move several datagrams a system call, else nil.
	bc udp.BatchConn

	// Owned by run.
	spareIncoming []sendRequest
	spareConnects []netip.AddrPort
	peers         map[netip.AddrPort]*peer
	// made counts the peer states made so far: each takes epoch+made as
	// its own epoch (see peer.localEpoch).
	made    uint64
	frame   wire.Frame
	sendBuf []byte        // the packet being built, without bc
	tx      []udp.Message // with bc: packets built, for writeOut
	txBufs  [][]byte      // with bc: tx's buffers, kept
	leaving bool
}

type sendRequest struct {
	peer netip.AddrPort
	msg  *outMessage
}

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
	for i := range b.ms {
		b.ms[i].Buf = make([]byte, wire.MaxDatagram+1) // one byte more, to see an oversized datagram
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

// New starts an endpoint on conn that reports to h. The endpoint owns conn
// from now on and closes it in Close.
func New(conn udp.Conn, h Handler, cfg Config) (*Endpoint, error) {
	e, err := newEndpoint(conn, h, cfg)
	if err != nil {
		return nil, err
	}
	readerDone := make(chan struct{})
	go e.read(readerDone)
	go e.run(readerDone)
	return e, nil
}

// newEndpoint builds an endpoint without starting its goroutines: New does
// that; tests drive handle and flush by hand.
func newEndpoint(conn udp.Conn, h Handler, cfg Config) (*Endpoint, error) {
	cfg.setDefaults()
	if cfg.MaxPacket < wire.MinPacket || cfg.MaxPacket > wire.MaxDatagram {
		return nil, fmt.Errorf("transport: MaxPacket %d is outside [%d, %d]", cfg.MaxPacket, wire.MinPacket, wire.MaxDatagram)
	}
	e := &Endpoint{
		conn:    conn,
		h:       h,
		cfg:     cfg,
		log:     cfg.Logger,
		epoch:   newEpoch(),
		wake:    make(chan struct{}, 1),
		statsRq: make(chan chan []PeerStats),
		closeRq: make(chan struct{}),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
		peers:   make(map[netip.AddrPort]*peer),
		sendBuf: make([]byte, 0, cfg.MaxPacket),
	}
	size := 1
	e.rxPool = &rxPools[0]
	if bc, ok := conn.(udp.BatchConn); ok {
		e.bc, size = bc, rxBatchSize
		e.rxPool = &rxPools[1]
	}
	e.rx = make(chan *rxBatch, rxQueue/size)
	return e, nil
}

// newEpoch names this incarnation: the time, so that a restart gets a larger
// one, with random low bits, so that two starting at once differ.
func newEpoch() uint64 {
	return uint64(time.Now().UnixMicro())<<12 | rand.Uint64N(1<<12) | 1
}

// LocalAddr is the address the endpoint's socket is bound to.
func (e *Endpoint) LocalAddr() netip.AddrPort { return e.conn.LocalAddr() }

// Connect starts contacting peer, so that it learns of us even before we
// send it a message.
func (e *Endpoint) Connect(peer netip.AddrPort) error {
	return e.handOff(func() { e.connects = append(e.connects, udp.Unmap(peer)) })
}

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

// Send queues msg for peer and returns the reference a later
// Handler.Delivered names. The message waits, however long, until the peer
// (or a later incarnation of it) has consumed it, or the endpoint closes.
func (e *Endpoint) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	switch {
	case len(msg) == 0:
		return 0, ErrEmpty
	case len(msg) > MaxMessage:
		return 0, ErrTooBig
	}
	m := newOutMessage(len(msg))
	copy(m.data, msg)
	m.ref = e.nextRef.Add(1)
	m.chunks = (len(msg) + wire.ChunkSize - 1) / wire.ChunkSize
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		freeOutMessage(m)
		return 0, ErrClosed
	}
	if e.queued.Add(int64(len(msg))) > int64(e.cfg.MaxQueued) {
		e.queued.Add(-int64(len(msg)))
		freeOutMessage(m)
		return 0, ErrQueueFull
	}
	e.incoming = append(e.incoming, sendRequest{peer: udp.Unmap(peer), msg: m})
	e.signal()
	return m.ref, nil
}

// Forget drops everything about peer: its session, and the messages queued
// for it, which are never reported delivered. The conn below, if it keeps
// state per address (Forgetter), forgets it too. If the peer writes again,
// it starts a new session with us (see peer.localEpoch).
func (e *Endpoint) Forget(peer netip.AddrPort) error {
	return e.handOff(func() { e.forgets = append(e.forgets, udp.Unmap(peer)) })
}

// Forgetter is a conn that keeps state per peer address (secure.Conn does:
// sessions, handshakes). The endpoint tells it whenever it forgets a peer,
// so that the conn's table is bounded and recovers as the endpoint's does.
type Forgetter interface {
	Forget(peer netip.AddrPort)
}

// signal wakes run; e.mu must be held.
func (e *Endpoint) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Close says goodbye to every peer in session with us (a CLOSE frame, resent
// until acknowledged), waits until each has acknowledged it or ctx ends, and
// then closes the socket. Messages not yet delivered are abandoned.
func (e *Endpoint) Close(ctx context.Context) error {
	e.mu.Lock()
	first := !e.closing
	e.closing = true
	e.mu.Unlock()
	if first {
		close(e.closeRq)
	}
	var err error
	select {
	case <-e.closed:
	case <-ctx.Done():
		err = fmt.Errorf("saying goodbye: %w", ctx.Err())
	case <-e.done:
	}
	e.conn.Close()
	<-e.done
	return err
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() Stats { return e.count.snapshot() }

// PeerStats returns a snapshot of every peer's session.
func (e *Endpoint) PeerStats(ctx context.Context) ([]PeerStats, error) {
	reply := make(chan []PeerStats, 1)
	select {
	case e.statsRq <- reply:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.done:
		return nil, ErrClosed
	}
	select {
	case s := <-reply:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.done:
		return nil, ErrClosed
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
		now = time.Now()
		for _, p := range e.peers {
			e.flush(p, now)
		}
		e.writeOut()
		if e.leaving && e.everyoneHeardGoodbye() {
			e.leaving = false
			close(e.closed)
		}
	}
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
	sends, connects, forgets := e.incoming, e.connects, e.forgets
	// Hand Send the emptied slices of the last round, so that a steady
	// stream of sends does not grow new ones.
	e.incoming, e.connects, e.forgets = e.spareIncoming[:0], e.spareConnects[:0], nil
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
	p := newPeer(addr, e.h.Receive, e.onConsumed)
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

func (e *Endpoint) drop(reason DropReason, from netip.AddrPort, err error) {
	e.count.drops[reason].Add(1)
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("drop", "reason", reason.String(), "from", from, "err", err)
	}
}

// handle processes one datagram from the socket. b is only valid during the
// call.
func (e *Endpoint) handle(b []byte, from netip.AddrPort, now time.Time) {
	e.count.datagramsIn.Add(1)
	e.count.bytesIn.Add(uint64(len(b)))
	h, frames, err := wire.ParseHeader(b)
	if err != nil {
		e.drop(dropReasonOf(err), from, err)
		return
	}
	if h.DstEpoch == 0 && len(b) < wire.MinInitialLen {
		// A first contact must be padded: we answer it before knowing the
		// sender, and never with more than it sent.
		e.drop(DropMalformed, from, nil)
		return
	}
	p := e.peer(from, now)
	if p == nil {
		return
	}
	switch {
	case h.SrcEpoch == p.remoteEpoch:
		if p.closed {
			// Only a CLOSE we already took, resent because our ACK was
			// lost, gets an answer: the ACK again.
			if h.DstEpoch == p.localEpoch && hasClose(frames) {
				p.received.add(h.PacketNumber)
				p.ackNow = true
			} else {
				e.drop(DropStale, from, nil)
			}
			return
		}
	case h.SrcEpoch > p.remoteEpoch || p.unreachable:
		// A new incarnation; or, from a peer gone silent, an older-looking
		// one, which is a restart with its clock set back.
		p.startSession(h.SrcEpoch)
		e.h.PeerUp(p.addr)
	default:
		e.drop(DropStale, from, nil)
		return
	}
	p.lastHeard = now
	if p.unreachable {
		p.unreachable = false
		e.h.PeerReachable(p.addr)
	}
	if h.DstEpoch != p.localEpoch {
		// The peer does not know our current epoch yet: answer, so that it
		// does, but act on none of the frames, which were meant for another
		// session (or for none: one we forgot).
		p.pingNeeded = true
		if h.DstEpoch != 0 {
			e.drop(DropOtherEpoch, from, nil)
		}
		return
	}
	e.handleFrames(p, h.PacketNumber, frames, now)
}

// hasClose reports whether a packet's frames include a CLOSE.
func hasClose(frames []byte) bool {
	var f wire.Frame
	for len(frames) > 0 {
		n, err := wire.ParseFrame(frames, &f)
		if err != nil {
			return false
		}
		if f.Type == wire.FrameClose {
			return true
		}
		frames = frames[n:]
	}
	return false
}

func dropReasonOf(err error) DropReason {
	switch {
	case errors.Is(err, wire.ErrVersion):
		return DropVersion
	case errors.Is(err, wire.ErrType):
		return DropType
	case errors.Is(err, wire.ErrTooBig):
		return DropTooBig
	default:
		return DropMalformed
	}
}

// handleFrames acts on the frames of a packet of the current session and
// schedules its acknowledgement. A packet with a malformed frame, or a chunk
// that cannot be taken now, is not acknowledged, so the sender sends its
// chunks again.
func (e *Endpoint) handleFrames(p *peer, pn uint64, frames []byte, now time.Time) {
	eliciting, closing := false, false
	f := &e.frame
	for len(frames) > 0 {
		n, err := wire.ParseFrame(frames, f)
		if err != nil {
			e.drop(dropReasonOf(err), p.addr, err)
			return
		}
		frames = frames[n:]
		switch f.Type {
		case wire.FramePing:
			eliciting = true
		case wire.FrameClose:
			eliciting, closing = true, true
		case wire.FrameAck:
			if !p.onAck(&f.Ack, now) {
				e.drop(DropBogusAck, p.addr, nil)
				return
			}
		case wire.FrameChunk:
			eliciting = true
			if err := p.reasm.add(&f.Chunk, p.deliver); err != nil {
				reason := DropOverWindow
				switch {
				case errors.Is(err, errMismatch):
					reason = DropMalformed
				case errors.As(err, new(notConsumed)):
					reason = DropNotConsumed
				}
				e.drop(reason, p.addr, err)
				return
			}
			if err := p.reasm.stalled(); err != nil && p.retryAt.IsZero() {
				e.log.Debug("message refused by the handler: kept, to offer again", "peer", p.addr, "err", err)
				p.refused(now)
			}
			p.stats.BytesIn += uint64(len(f.Chunk.Data))
		}
	}
	duplicate := p.received.add(pn)
	if !eliciting {
		return
	}
	p.ackPending++
	largest, _ := p.received.largest()
	if pn == largest {
		p.largestRecvAt = now
	}
	switch {
	case duplicate || pn != largest || p.received.recentGap() || p.ackPending >= 2 || closing:
		p.ackNow = true
	case p.ackDeadline.IsZero():
		p.ackDeadline = now.Add(ackDelay)
	}
	if closing {
		e.flush(p, now) // the ACK goes now: we will not answer this session again
		p.closed = true
		e.h.PeerClosed(p.addr)
	}
}

// onConsumed is called for each message a peer reports consumed.
func (e *Endpoint) onConsumed(p *peer, m *outMessage) {
	e.queued.Add(-int64(len(m.data)))
	e.h.Delivered(p.addr, m.ref)
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

func (e *Endpoint) peerStats() []PeerStats {
	out := make([]PeerStats, 0, len(e.peers))
	for _, p := range e.peers {
		s := p.stats
		s.Addr = p.addr
		s.Established = p.established()
		s.Reachable = p.remoteEpoch != 0 && !p.unreachable
		s.Closed = p.closed
		s.SmoothedRTT = p.rtt.smoothed
		s.MinRTT = p.rtt.min
		s.PathRTT, s.PathMinRTT = p.rtt.pathSmoothed, p.rtt.pathMin
		s.Window = p.cc.window
		s.InFlight = p.cc.inFlight
		s.Queued = p.queue.len()
		out = append(out, s)
	}
	return out
}
