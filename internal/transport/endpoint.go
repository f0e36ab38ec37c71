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
// channel, so a link.Handler may call them.
//
// Where each part lives: endpoint.go is the Endpoint's API and lifecycle
// (New, Send, Connect, Forget, Close); run.go the run loop, the reader, the
// hand-offs, the peer table and the timers; receive.go what a datagram
// does on arrival (epochs, frames, when to acknowledge); send.go packs and
// writes packets; recovery.go is loss detection, the probe timeout and the
// ACK handler (RFC 9002 section 6); rtt.go the RTT estimate (section 5);
// cc.go congestion control, behind a small interface (section 7; CUBIC);
// pmtu.go path MTU discovery (RFC 8899), which grows packets past the base
// size to what each peer's path carries;
// peer.go a peer's session state; reassembly.go and received.go the
// receiving side's messages and packet numbers; pool.go recycled buffers.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

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
	// before the endpoint forgets it (link.Handler.PeerGone): its queue and
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
	// MaxPacket is the largest packet the endpoint writes to a peer before
	// path MTU discovery finds the path carries more: wire.MaxDatagram less
	// what the layer below adds (encryption). Default wire.MaxDatagram; it
	// must leave room for a whole chunk (wire.MinPacket).
	MaxPacket int
	// MaxPathPacket is the largest packet path MTU discovery tries: a
	// datagram of wire.MaxPathDatagram less what the layer below adds.
	// Default MaxPacket + wire.MaxPathDatagram - wire.MaxDatagram (the same
	// overhead); MaxPacket turns discovery off, for a layer below that
	// carries no more (a relay).
	MaxPathPacket int
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
	if c.MaxPathPacket <= 0 {
		c.MaxPathPacket = c.MaxPacket + wire.MaxPathDatagram - wire.MaxDatagram
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
	h     link.Handler
	cfg   Config
	log   *slog.Logger
	epoch uint64

	// mu guards the hand-off from Send and Connect to run.
	mu       sync.Mutex
	incoming []sendRequest
	connects []netip.AddrPort
	forgets  []netip.AddrPort
	roams    []roam
	closing  bool

	wake    chan struct{} // capacity 1: run has hand-offs to take
	rx      chan *rxBatch
	rxPool  *sync.Pool // of *rxBatch: rxPools[0] or [1]
	statsRq chan chan []link.PeerStats
	closeRq chan struct{}
	closed  chan struct{} // run has finished closing; peers heard us or time ran out
	done    chan struct{} // run and the reader have exited
	queued  atomic.Int64  // bytes of undelivered messages
	nextRef atomic.Uint64
	count   counters

	// bc is conn if it can move several datagrams a system call, else nil.
	bc udp.BatchConn
	// roamer is h if it wants to hear of peers' moves and conn reports
	// them, else nil.
	roamer link.Roamer
	// syncer is h if it holds what it is handed until Sync (link.Syncer),
	// else nil.
	syncer link.Syncer

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
	// txArena holds tx's packets end to end (with bc): a fixed buffer,
	// however large the packets, and runs to one peer lie in one piece,
	// which the socket can hand the system whole (GSO).
	txArena []byte
	leaving bool
	// unsynced says the handler took messages or deliveries since the
	// last Sync that returned nil; syncRetryAt, when to call Sync again
	// after one failed (zero: at the end of the round).
	unsynced    bool
	syncRetryAt time.Time
}

type sendRequest struct {
	peer netip.AddrPort
	msg  *outMessage
}

// roam is a move the conn reported (RoamingConn), for run to pass on.
type roam struct{ peer, endpoint netip.AddrPort }

// CallsSync says the endpoint calls its Handler's Sync, if it has one,
// after each burst: see link.SyncingLink.
func (e *Endpoint) CallsSync() {}

// New starts an endpoint on conn that reports to h. The endpoint owns conn
// from now on and closes it in Close. h's calls come from the endpoint's run
// goroutine, one at a time, as link.Handler says; a message counts as
// consumed, and the peer is told so, only when h.Receive returns nil.
func New(conn udp.Conn, h link.Handler, cfg Config) (*Endpoint, error) {
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
func newEndpoint(conn udp.Conn, h link.Handler, cfg Config) (*Endpoint, error) {
	cfg.setDefaults()
	if cfg.MaxPacket < wire.MinPacket || cfg.MaxPacket > wire.MaxDatagram {
		return nil, fmt.Errorf("transport: MaxPacket %d is outside [%d, %d]", cfg.MaxPacket, wire.MinPacket, wire.MaxDatagram)
	}
	if cfg.MaxPathPacket < cfg.MaxPacket || cfg.MaxPathPacket > wire.MaxPathDatagram {
		return nil, fmt.Errorf("transport: MaxPathPacket %d is outside [MaxPacket %d, %d]", cfg.MaxPathPacket, cfg.MaxPacket, wire.MaxPathDatagram)
	}
	e := &Endpoint{
		conn:    conn,
		h:       h,
		cfg:     cfg,
		log:     cfg.Logger,
		epoch:   newEpoch(),
		wake:    make(chan struct{}, 1),
		statsRq: make(chan chan []link.PeerStats),
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
	e.syncer, _ = h.(link.Syncer)
	if r, ok := h.(link.Roamer); ok {
		if rc, ok := conn.(RoamingConn); ok {
			rc.OnRoam(func(peer, endpoint netip.AddrPort) {
				// From the reader, inside ReadFrom: run tells r.
				e.handOff(func() { e.roams = append(e.roams, roam{peer, endpoint}) })
			})
			e.roamer = r
		}
	}
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

// Send queues msg for peer and returns the reference a later
// link.Handler.Delivered names. The message waits, however long, until the peer
// (or a later incarnation of it) has consumed it, or the endpoint closes.
// It goes after every message sent to peer before it, except bulk ones
// (SendBulk) that have not begun to go.
func (e *Endpoint) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	return e.send(peer, msg, false)
}

var _ link.BulkSender = (*Endpoint)(nil)

// SendBulk is Send for a message that can wait (a file's block): a message
// sent with Send after it goes first if it has not begun to go, so that a
// line typed during a transfer waits for what is in flight, not for the
// blocks queued behind it. Bulk messages keep their order among themselves.
func (e *Endpoint) SendBulk(peer netip.AddrPort, msg []byte) (uint64, error) {
	return e.send(peer, msg, true)
}

func (e *Endpoint) send(peer netip.AddrPort, msg []byte, bulk bool) (uint64, error) {
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
	m.bulk = bulk
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

// RoamingConn is a conn whose peers may move to other addresses while it
// goes on naming each by one, its handle (secure.Conn: roaming). If the
// handler is a link.Roamer, the endpoint asks the conn to report each move
// and passes it on.
type RoamingConn interface {
	// OnRoam sets f, to be called, without blocking, on each move.
	OnRoam(f func(peer, endpoint netip.AddrPort))
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
func (e *Endpoint) PeerStats(ctx context.Context) ([]link.PeerStats, error) {
	reply := make(chan []link.PeerStats, 1)
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
