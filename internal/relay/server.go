// Package relay is udpchat's rendezvous and relay server and the client side
// of its protocol (docs/PROTOCOL.md sections RL1-RL9).
//
// Clients hold a Noise session with the relay (internal/secure: the relay is
// one more peer, pinned by its key), so the relay knows each by its public
// key. A client registers every Refresh and learns the address the relay sees
// it at; it asks for another's candidates (observed and local addresses) and
// the relay tells the other to ping back (call me maybe), so the two can
// punch through their NATs. Until then, or when punching fails, datagrams go
// through the relay addressed by key: the relay forwards the peers' own
// sealed Noise datagrams, which it cannot open. A message for someone
// offline waits in a mailbox, sealed for its recipient (SealMail), in a
// MailStore: SQLite (Mailboxes) for a relay alone.
//
// Relays may form a cluster (RL8): with a Cluster, they share a registry of
// which relay each key registered at, and hand each other what is for their
// clients (FromCluster); internal/relaycluster does it over NATS, with the
// mailboxes in JetStream.
//
// The Server has two goroutines besides Serve's reader: a writer that drains
// the clients' bounded queues (drop the oldest) round-robin, in batches, and
// the mailbox store's, so a slow disk never stalls forwarding.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// DefaultPort is the relay's UDP port (the chat's is 7475, LAN discovery's
// 7476).
const DefaultPort = 7477

// DefaultRefresh is how often clients register again by default: under the
// ~30 s in which NATs forget an idle UDP mapping. A registration lasts
// three of them.
const DefaultRefresh = 25 * time.Second

// MailPerFetch is the most mails the relay sends for one fetch; a client
// that got this many fetches again once it has acknowledged them.
const MailPerFetch = 16

// Config sets up a Server. Static is required; every other field has a
// default.
type Config struct {
	// Static is the relay's own key, which clients pin.
	Static keys.PrivateKey
	// Mailboxes holds mail for offline recipients; nil refuses every put
	// (wire.MailRefused).
	Mailboxes MailStore
	// Cluster links the relay with others that share its registry and
	// forward to each other's clients (internal/relaycluster's); nil runs
	// it alone.
	Cluster Cluster
	// Logger receives the relay's events. Nil discards.
	Logger *slog.Logger

	// MaxClients bounds the registration table. Default 65536.
	MaxClients int
	// Refresh is how often clients are told to register again: under the
	// ~30 s in which NATs forget an idle UDP mapping. Default 25 s.
	Refresh time.Duration
	// TTL is how long a registration lasts without a refresh. Default
	// three Refreshes.
	TTL time.Duration
	// Rate and Burst limit the messages a second each client sends (a
	// token bucket). Defaults 1000 and 2000.
	Rate  float64
	Burst int
	// RoomRate and RoomBurst limit each client's room posts a second
	// apart (each one goes to every member of a room). Defaults 100 and
	// 200.
	RoomRate  float64
	RoomBurst int
	// QueueLen bounds each client's queue of packets waiting to go to it
	// (the oldest is dropped for a new one). Default 32.
	QueueLen int
	// Now is the clock (tests move it). Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxClients, 65536)
	def(&c.Burst, 2000)
	def(&c.QueueLen, 32)
	def(&c.RoomBurst, 200)
	if c.RoomRate <= 0 {
		c.RoomRate = 100
	}
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	if c.TTL <= 0 {
		c.TTL = 3 * c.Refresh
	}
	if c.Rate <= 0 {
		c.Rate = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is a relay.
type Server struct {
	cfg  Config
	conn *secure.Conn
	mail MailStore
	peer Cluster
	log  *slog.Logger
	c    counters

	// The reader's own (Serve's goroutine), but for FromCluster, which
	// reads clients and their expiry under regMu: the reader changes them
	// under it.
	regMu     sync.RWMutex
	clients   map[keys.PublicKey]*client
	byAddr    map[netip.AddrPort]*client
	lastSweep time.Time
	nclients  atomic.Int64
	// rooms are the subscribers of each room here (RL9): changed by the
	// reader under regMu, read by fanOut under it.
	rooms map[RoomID]map[*client]struct{}

	mailOps chan mailOp

	// The queues, shared by whoever enqueues and the writer.
	qmu    sync.Mutex
	cond   *sync.Cond
	ready  []*client // clients with packets waiting, in turn
	queued int
	closed bool
	// writeGate is held by the writer while it takes a batch and sends it;
	// tests hold it to stand for a network that takes nothing.
	writeGate sync.Mutex
}

// client is a registered key.
type client struct {
	key     keys.PublicKey
	locals  []netip.AddrPort
	expires time.Time
	limit   *rate.Limiter
	// roomLimit bounds the client's room posts, each of which goes to many.
	roomLimit *rate.Limiter
	// rooms are the rooms it subscribes to; the reader changes them under
	// Server.regMu.
	rooms map[RoomID]struct{}

	// Under Server.qmu: the writer reads them.
	addr  netip.AddrPort
	q     queue
	ready bool // in Server.ready
	gone  bool // expired or replaced: nothing more is queued for it
}

// NewServer makes a relay on conn, a UDP socket it owns from now on: it
// wraps it in a Noise layer (internal/secure) that accepts every key, since
// a client's key is its name here and the handshake proves the client holds
// it. Serve runs it.
func NewServer(conn udp.Conn, cfg Config) (*Server, error) {
	cfg.setDefaults()
	sec, err := secure.NewConn(conn, secure.Config{
		Static:   cfg.Static,
		Logger:   cfg.Logger,
		MaxPeers: cfg.MaxClients + cfg.MaxClients/8,
		// Clients behind one NAT share its address: answer more of their
		// handshakes than one host would send.
		PerSourceRate:  50,
		PerSourceBurst: 100,
		MaxHalfOpen:    4096,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		conn:    sec,
		mail:    cfg.Mailboxes,
		peer:    cfg.Cluster,
		log:     cfg.Logger,
		clients: make(map[keys.PublicKey]*client),
		byAddr:  make(map[netip.AddrPort]*client),
		rooms:   make(map[RoomID]map[*client]struct{}),
		mailOps: make(chan mailOp, 256),
	}
	s.cond = sync.NewCond(&s.qmu)
	return s, nil
}

// Addr is where the relay listens.
func (s *Server) Addr() netip.AddrPort { return s.conn.LocalAddr() }

// PublicKey is the relay's key, which clients pin.
func (s *Server) PublicKey() keys.PublicKey { return s.conn.PublicKey() }

// Serve relays until ctx ends, then closes the socket and returns nil;
// or an error if the socket fails. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(s.writeLoop)
	wg.Go(s.mailLoop)
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	s.log.Info("relay listening", "addr", s.Addr(), "key", s.PublicKey().Fingerprint())
	err := s.readLoop()
	s.conn.Close()
	close(s.mailOps)
	s.qmu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.qmu.Unlock()
	wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *Server) readLoop() error {
	ms := make([]udp.Message, 32)
	for i := range ms {
		ms[i].Buf = make([]byte, wire.MaxRelayMessage+1)
	}
	for {
		n, err := s.conn.ReadBatch(ms)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		if now.Sub(s.lastSweep) >= time.Second {
			s.sweep(now)
		}
		for _, m := range ms[:n] {
			s.handle(m.Buf[:m.N], m.Addr, now)
		}
	}
}

// handle takes one message from the client at from.
func (s *Server) handle(b []byte, from netip.AddrPort, now time.Time) {
	key, ok := s.conn.PeerKey(from)
	if !ok {
		return // the session ended between reading and now; nothing to answer
	}
	s.handleFrom(key, from, b, now)
}

// handleFrom takes message b from key, whose session is at from.
func (s *Server) handleFrom(key keys.PublicKey, from netip.AddrPort, b []byte, now time.Time) {
	m, err := wire.ParseRelay(b)
	if err != nil {
		s.drop(DropReason(wire.DropOf(err)))
		return
	}
	if m.Type == wire.TypeRelayRegister {
		s.register(key, from, m.Addrs, m.ID, now)
		return
	}
	c := s.live(key, now)
	if c == nil {
		s.drop(DropUnregistered)
		return
	}
	if c.addr != from {
		s.move(c, from) // roamed: the session at from proves the key
	}
	if !c.limit.AllowN(now, 1) {
		s.drop(DropRateLimited)
		return
	}
	switch m.Type {
	case wire.TypeRelayLookup:
		s.lookup(c, m.Key, m.ID, now)
	case wire.TypeRelayForward:
		deliver := wire.RelayMessage{Type: wire.TypeRelayDeliver, Key: c.key, Payload: m.Payload}
		switch d := s.where(m.Key, now); {
		case d.local != nil:
			s.enqueue(d.local, deliver, true)
		case d.found():
			s.toPeer(d.remote.Relay, m.Key, deliver)
		default:
			s.drop(DropNoDestination)
		}
	case wire.TypeRelayMailPut:
		s.mailOp(mailOp{kind: m.Type, client: c, to: m.Key, toDest: s.where(m.Key, now), id: m.ID, blob: slices.Clone(m.Payload)})
	case wire.TypeRelayMailFetch, wire.TypeRelayMailAck:
		s.mailOp(mailOp{kind: m.Type, client: c, id: m.ID})
	case wire.TypeRelayRoomSubscribe:
		s.subscribe(c, m.Room, m.Status == wire.RoomSubscribe)
	case wire.TypeRelayRoomPost:
		s.post(c, m.Room, m.Payload)
	case wire.TypeRelayPunchResult:
		if m.Status == wire.PunchDirect {
			s.c.punchDirect.Add(1)
		} else {
			s.c.punchFailed.Add(1)
		}
	default: // a message only the relay sends
		s.drop(DropType)
	}
}

// register adds or refreshes key at from and tells it the address it is
// seen at.
func (s *Server) register(key keys.PublicKey, from netip.AddrPort, locals []netip.AddrPort, nonce uint64, now time.Time) {
	c := s.clients[key]
	if c == nil {
		if len(s.clients) >= s.cfg.MaxClients {
			s.drop(DropTableFull)
			return
		}
		c = &client{
			key:       key,
			limit:     rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst),
			roomLimit: rate.NewLimiter(rate.Limit(s.cfg.RoomRate), s.cfg.RoomBurst),
			q:         newQueue(s.cfg.QueueLen),
		}
		s.regMu.Lock()
		s.clients[key] = c
		s.regMu.Unlock()
		s.nclients.Store(int64(len(s.clients)))
		s.log.Debug("relay: client registered", "key", key.Fingerprint(), "addr", from)
	} else if !c.limit.AllowN(now, 1) {
		s.drop(DropRateLimited)
		return
	}
	s.move(c, from)
	// The observed address goes first in candidates, so keep room for it.
	c.locals = slices.Clone(locals[:min(len(locals), wire.MaxRelayAddrs-1)])
	s.regMu.Lock()
	c.expires = now.Add(s.cfg.TTL)
	s.regMu.Unlock()
	if s.peer != nil {
		s.peer.Announce(key, c.candidates())
	}
	s.c.registrations.Add(1)
	s.enqueue(c, wire.RelayMessage{
		Type:    wire.TypeRelayRegistered,
		Addrs:   []netip.AddrPort{observed(from)},
		Refresh: uint16(max(1, s.cfg.Refresh/time.Second)),
		ID:      nonce,
	}, false)
}

// lookup answers c's request for key's candidates, and tells key to ping
// c back.
func (s *Server) lookup(c *client, key keys.PublicKey, nonce uint64, now time.Time) {
	s.c.lookups.Add(1)
	reply := wire.RelayMessage{Type: wire.TypeRelayCandidates, Key: key, ID: nonce}
	call := wire.RelayMessage{Type: wire.TypeRelayCallMeMaybe, Key: c.key, Addrs: c.candidates()}
	switch d := s.where(key, now); {
	case d.local == c: // itself: no candidates
	case d.local != nil:
		reply.Addrs = d.local.candidates()
		s.enqueue(d.local, call, false)
	case d.found():
		reply.Addrs = d.remote.Candidates
		s.toPeer(d.remote.Relay, key, call)
	}
	s.enqueue(c, reply, false)
}

// candidates are where c may be reached: first the address the relay sees
// it at, then those it says it has.
func (c *client) candidates() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, 1+len(c.locals))
	out = append(out, observed(c.addr))
	for _, a := range c.locals {
		if a != out[0] {
			out = append(out, a)
		}
	}
	return out
}

// observed is a socket address as another host can use it: no zone.
func observed(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().WithZone(""), a.Port())
}

// live returns key's registration, unless it has expired.
func (s *Server) live(key keys.PublicKey, now time.Time) *client {
	c := s.clients[key]
	if c == nil || now.After(c.expires) {
		return nil
	}
	return c
}

// move records that c is at addr now. A registration another key held at
// addr is over: its session there is gone.
func (s *Server) move(c *client, addr netip.AddrPort) {
	if other := s.byAddr[addr]; other != nil && other != c {
		s.remove(other, false)
	}
	if s.byAddr[c.addr] == c {
		delete(s.byAddr, c.addr)
	}
	s.byAddr[addr] = c
	s.qmu.Lock()
	c.addr = addr
	s.qmu.Unlock()
}

// remove forgets c, and its session too when forget is set (it expired;
// not when another key's session took its address).
func (s *Server) remove(c *client, forget bool) {
	s.regMu.Lock()
	delete(s.clients, c.key)
	for room := range c.rooms {
		s.leaveLocked(c, room)
	}
	s.regMu.Unlock()
	if s.byAddr[c.addr] == c {
		delete(s.byAddr, c.addr)
		if forget {
			s.conn.Forget(c.addr)
		}
	}
	s.nclients.Store(int64(len(s.clients)))
	s.qmu.Lock()
	c.gone = true
	for {
		p, ok := c.q.pop()
		if !ok {
			break
		}
		s.queued--
		bufPool.Put(p.buf)
		s.drop(DropStale)
	}
	s.qmu.Unlock()
	s.log.Debug("relay: client gone", "key", c.key.Fingerprint())
}

// sweep removes the registrations that have expired.
func (s *Server) sweep(now time.Time) {
	s.lastSweep = now
	for _, c := range s.clients {
		if now.After(c.expires) {
			s.remove(c, true)
		}
	}
}

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, wire.MaxRelayMessage)
	return &b
}}

// enqueue queues m for c, pushing out c's oldest packet if its queue is
// full. relayed says m is a deliver, counted as relayed when it goes.
func (s *Server) enqueue(c *client, m wire.RelayMessage, relayed bool) {
	bp := bufPool.Get().(*[]byte)
	b, err := wire.AppendRelay((*bp)[:0], m)
	if err != nil { // a message of ours that does not encode is a bug here
		bufPool.Put(bp)
		s.log.Error("relay: cannot encode a message", "type", m.Type, "err", err)
		return
	}
	*bp = b
	s.qmu.Lock()
	defer s.qmu.Unlock()
	s.pushLocked(c, outPacket{buf: bp, relayed: relayed})
}

// pushLocked queues p for c, pushing out c's oldest packet if its queue is
// full; qmu is held.
func (s *Server) pushLocked(c *client, p outPacket) {
	if c.gone {
		bufPool.Put(p.buf)
		s.drop(DropStale)
		return
	}
	if old, ok := c.q.push(p); ok {
		bufPool.Put(old.buf)
		s.drop(DropQueueFull)
	} else {
		s.queued++
	}
	if !c.ready {
		c.ready = true
		s.ready = append(s.ready, c)
		s.cond.Signal()
	}
}

// writeLoop sends the queued packets: one from each client in turn, up to
// a batch at a time, so that no client's backlog delays the others'.
func (s *Server) writeLoop() {
	const batch = 32
	ms := make([]udp.Message, 0, batch)
	sent := make([]outPacket, 0, batch)
	for {
		s.qmu.Lock()
		for len(s.ready) == 0 && !s.closed {
			s.cond.Wait()
		}
		s.qmu.Unlock()
		// Held from before the batch is taken until it has gone, so that
		// while a test holds it the packets stay in their queues.
		s.writeGate.Lock()
		s.qmu.Lock()
		if s.closed {
			s.qmu.Unlock()
			s.writeGate.Unlock()
			return
		}
		for len(ms) < batch && len(s.ready) > 0 {
			c := s.ready[0]
			s.ready = s.ready[1:]
			p, ok := c.q.pop()
			if !ok { // drained by remove
				c.ready = false
				continue
			}
			s.queued--
			if c.q.len() > 0 {
				s.ready = append(s.ready, c)
			} else {
				c.ready = false
			}
			ms = append(ms, udp.Message{Buf: *p.buf, Addr: c.addr})
			sent = append(sent, p)
		}
		s.qmu.Unlock()

		if _, err := s.conn.WriteBatch(ms); err != nil {
			s.log.Debug("relay: write", "err", err)
		}
		s.writeGate.Unlock()
		for _, p := range sent {
			switch {
			case p.relayed:
				s.c.relayed.Add(1)
				s.c.relayedBytes.Add(uint64(len(*p.buf)))
			case p.room:
				s.c.roomDelivered.Add(1)
			}
			bufPool.Put(p.buf)
		}
		clear(ms)
		ms, sent = ms[:0], sent[:0]
	}
}

func (s *Server) drop(r DropReason) { s.c.drops[r].Add(1) }

// Stats returns the counters and the sizes now.
func (s *Server) Stats() Stats {
	st := Stats{
		Clients:       int(s.nclients.Load()),
		Registrations: s.c.registrations.Load(),
		Relayed:       s.c.relayed.Load(),
		RelayedBytes:  s.c.relayedBytes.Load(),
		Lookups:       s.c.lookups.Load(),
		PunchDirect:   s.c.punchDirect.Load(),
		PunchFailed:   s.c.punchFailed.Load(),
		MailStored:    s.c.mailStored.Load(),
		MailSent:      s.c.mailSent.Load(),
		MailAcked:     s.c.mailAcked.Load(),
		PeerSent:      s.c.peerSent.Load(),
		PeerReceived:  s.c.peerReceived.Load(),

		RoomPosts:        s.c.roomPosts.Load(),
		RoomDelivered:    s.c.roomDelivered.Load(),
		RoomPeerSent:     s.c.roomPeerSent.Load(),
		RoomPeerReceived: s.c.roomPeerReceived.Load(),
	}
	s.regMu.RLock()
	st.Rooms = len(s.rooms)
	s.regMu.RUnlock()
	for i := range st.Drops {
		st.Drops[i] = s.c.drops[i].Load()
	}
	s.qmu.Lock()
	st.Queued = s.queued
	s.qmu.Unlock()
	return st
}

// mailOp is a mailbox request, done on the store's goroutine.
type mailOp struct {
	kind   wire.RelayType
	client *client        // who asked; the answer goes to it
	to     keys.PublicKey // put: the recipient
	toDest dest           // put: where the recipient is registered now, if it is
	id     uint64
	blob   []byte
}

// mailOp hands op to the store's goroutine, or drops it if the store is
// that far behind (the client asks again).
func (s *Server) mailOp(op mailOp) {
	if s.mail == nil && op.kind == wire.TypeRelayMailPut {
		s.enqueue(op.client, wire.RelayMessage{Type: wire.TypeRelayMailStored, ID: op.id, Status: wire.MailRefused}, false)
		return
	}
	if s.mail == nil {
		return
	}
	select {
	case s.mailOps <- op:
	default:
		s.drop(DropMailBusy)
	}
}

// expireEvery is how often mail older than its age limit is dropped.
var expireEvery = time.Minute

func (s *Server) mailLoop() {
	if s.mail == nil {
		return // no mailboxes: every put is refused before it gets here
	}
	expire := time.NewTicker(expireEvery)
	defer expire.Stop()
	ctx := context.Background()
	for {
		select {
		case op, ok := <-s.mailOps:
			if !ok {
				return
			}
			if err := s.doMail(ctx, op); err != nil {
				s.drop(DropStore)
				s.log.Warn("relay: mailbox store", "err", err)
			}
		case <-expire.C:
			if n, err := s.mail.Expire(ctx, s.cfg.Now()); err != nil {
				s.log.Warn("relay: mailbox expiry", "err", err)
			} else if n > 0 {
				s.log.Info("relay: mail expired unfetched", "count", n)
			}
		}
	}
}

func (s *Server) doMail(ctx context.Context, op mailOp) error {
	now := s.cfg.Now()
	switch op.kind {
	case wire.TypeRelayMailPut:
		id, status, err := s.mail.Put(ctx, op.to, op.blob, now)
		// Counted before the sender hears: whoever has its answer sees
		// the put in the stats.
		switch status {
		case wire.MailBoxFull:
			s.drop(DropMailboxFull)
		case wire.MailStored:
			s.c.mailStored.Add(1)
		}
		s.enqueue(op.client, wire.RelayMessage{Type: wire.TypeRelayMailStored, ID: op.id, Status: status}, false)
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		if status != wire.MailStored {
			return nil
		}
		// Online, here or at another relay: it need not wait for its next
		// fetch.
		if d := op.toDest; d.local != nil {
			s.sendMail(d.local, Mail{ID: id, StoredAt: now, Blob: op.blob})
		} else if d.found() {
			s.toPeer(d.remote.Relay, op.to, mailMessage(Mail{ID: id, StoredAt: now, Blob: op.blob}))
		}
	case wire.TypeRelayMailFetch:
		mails, err := s.mail.Fetch(ctx, op.client.key, now, MailPerFetch)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		for _, ml := range mails {
			s.sendMail(op.client, ml)
		}
	case wire.TypeRelayMailAck:
		ok, err := s.mail.Ack(ctx, op.client.key, op.id)
		if err != nil {
			return fmt.Errorf("ack: %w", err)
		}
		if ok {
			s.c.mailAcked.Add(1)
		}
	}
	return nil
}

func (s *Server) sendMail(c *client, ml Mail) {
	s.c.mailSent.Add(1)
	s.enqueue(c, mailMessage(ml), false)
}

func mailMessage(ml Mail) wire.RelayMessage {
	return wire.RelayMessage{Type: wire.TypeRelayMail, ID: ml.ID, StoredAt: uint64(max(0, ml.StoredAt.Unix())), Payload: ml.Blob}
}
