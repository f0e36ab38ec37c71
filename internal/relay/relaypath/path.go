// Package relaypath is the chat's way across the internet (--relay): it
// registers with a relay by the chat's key, on the chat's own socket, so
// the address the relay observes is the one its peers punch to. A person
// reached through the relay has a handle of their own, Handle(key): an
// address in the discard-only prefix 100::/64 (RFC 6666) that no packet is
// ever sent to. Datagrams the secure layer writes to it go through the
// relay, addressed by key (the mux), and those the relay delivers from that
// person are read as if they came from it. The secure layer's roaming does
// the rest: the first authentic datagram from a direct address (a probe,
// once a hole is punched) moves the person's endpoint there, and when the
// direct path goes silent the endpoint goes back to the handle, the relay.
// Given several relays, the chat uses one at a time and moves on to the
// next when it stops answering (registerRule); handles are made from the
// people's keys, not the relay's, so their sessions carry on through it.
package relaypath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

const (
	// lookupTimeout bounds a relay lookup for --peer or /connect.
	lookupTimeout = 5 * time.Second
	// punchBurst is how long after learning a person's candidates we probe
	// them often (every probeFast): both sides do, so the holes open.
	punchBurst = 5 * time.Second
	probeFast  = 250 * time.Millisecond
	// probeSlow is how often a relayed person's candidates are probed
	// after the burst: a path may open later (a NAT's mapping, the other
	// side's probe).
	probeSlow = 2 * time.Second
	// Keepalive is the transport's keepalive with a relay: each side of a
	// quiet session pings this often, and the other answers, so a path
	// silent for longer is dead (deadPath). (It also keeps the NATs'
	// mappings open.)
	Keepalive = 2 * time.Second
	// deadPath is how long a direct path may go unanswered while we send
	// before the relay takes over: the transport acknowledges every
	// packet that asks within a round trip, and a quiet peer pings every
	// Keepalive, so this is a keepalive and many round trips.
	deadPath = Keepalive + time.Second
	// relayQueue bounds the datagrams waiting to go through the relay.
	relayQueue = 256
	// maxMailNoted bounds the mails whose relay is noted for their ack
	// (Path.mailFrom): far more than the mail in flight between a fetch
	// and its acks.
	maxMailNoted = 4 * relay.MailPerFetch
	// maxRelayed bounds the people reached through the relay: anyone
	// registered may write to us through it, and each is a lookup and an
	// entry here (the secure layer's peer table holds as many).
	maxRelayed = 1024
)

// MaxPacket is the largest transport packet that fits a datagram the
// relay forwards: a secure datagram of at most wire.MaxRelayedDatagram.
const MaxPacket = wire.MaxRelayedDatagram - secure.Overhead

// Config sets up a Path. Relays and Sock are required.
type Config struct {
	// Relays are --relay's, in the order they are tried: the chat is
	// registered with one at a time (see registerRule).
	Relays []Spec
	// Sock is the chat's socket, which the Path wraps (Conn).
	Sock udp.Conn
	// DataDir is where the relays' keys are remembered once learned.
	DataDir string
	Log     *slog.Logger
	// Nets are this machine's networks: local candidates, and which
	// direct paths are on the LAN.
	Nets []netip.Prefix
	// NoPunch keeps the Path from probing for direct paths: the relay
	// carries everything (for tests of the relayed path on one machine).
	NoPunch bool
	// OnMail hears each mail the relay holds for us (relay.ClientConfig's
	// OnMail); nil: none is fetched.
	OnMail func(relay.Mail)
	// OnDemand registers only when Register is called, and carries no
	// one: for udpchat send, which uses a remembered relay only for
	// mailboxes. The relay knows one address per key, so a registration
	// takes a chat's (on the same data dir) away from it until the chat's
	// next refresh.
	OnDemand bool
}

// Path is the chat's relay client and the paths of the people it reaches
// through it.
type Path struct {
	cfg  Config
	log  *slog.Logger
	mux  *mux
	conn udp.Conn // mux, or a batchMux over it
	sec  *secure.Conn

	relays []*relayEntry // Config.Relays, resolved; fixed from New on

	mu  sync.Mutex
	cur int // the relay in use: registered with, or being tried
	// mailFrom is the relay each mail not yet acknowledged came from, by
	// its ID: the ack goes there, whichever relay is in use by then.
	mailFrom map[uint64]*relayEntry
	people   map[netip.AddrPort]*relayedPerson
	// roomsHook is the rooms' (CarryRooms); registered, that a
	// registration succeeded already, for a hook that comes after it.
	roomsHook  RoomsHook
	registered bool

	roomIn chan roomDeliver // room delivers for the rooms (deliverRooms)
}

// relayEntry is one relay of Config.Relays.
type relayEntry struct {
	spec   Spec // its key (under Path.mu): pinned, or learned on first use
	addr   netip.AddrPort
	client *relay.Client // made in Start
}

// relayedPerson is someone reached through the relay.
type relayedPerson struct {
	key        keys.PublicKey
	candidates []netip.AddrPort
	burstUntil time.Time
	lastProbe  time.Time
	reported   bool // ReportPunch said direct for this path
	looked     bool // a lookup for its candidates was asked for
}

// New resolves cfg.Relays (within ctx) and wraps cfg.Sock in the mux that
// sends to relayed people through the relay (Conn). Start completes it
// once the secure conn on that exists.
func New(ctx context.Context, cfg Config) (*Path, error) {
	if len(cfg.Relays) == 0 {
		return nil, errors.New("relay: a relay path needs a relay")
	}
	var relays []*relayEntry
	for _, spec := range cfg.Relays {
		addr, err := udp.ResolvePeer(ctx, spec.Host)
		if err != nil {
			return nil, usagef("--relay %s: %v", spec.Host, err)
		}
		if slices.ContainsFunc(relays, func(o *relayEntry) bool { return o.addr == addr }) {
			return nil, usagef("--relay: %s is named twice (as %s)", addr, spec.Host)
		}
		relays = append(relays, &relayEntry{spec: spec, addr: addr})
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Path{cfg: cfg, log: cfg.Log, relays: relays, mailFrom: make(map[uint64]*relayEntry),
		people: make(map[netip.AddrPort]*relayedPerson), roomIn: make(chan roomDeliver, roomQueue)}
	r.mux = &mux{Conn: cfg.Sock, path: r, out: make(chan relayedDatagram, relayQueue)}
	r.conn = r.mux
	if bc, ok := cfg.Sock.(udp.BatchConn); ok {
		r.conn = &batchMux{mux: r.mux, bc: bc}
	}
	return r, nil
}

// Addrs are the relays' addresses, in Config.Relays' order.
func (r *Path) Addrs() []netip.AddrPort {
	addrs := make([]netip.AddrPort, len(r.relays))
	for i, e := range r.relays {
		addrs[i] = e.addr
	}
	return addrs
}

// relayAt is the relay at addr, or nil. The relays and their addresses
// are fixed in New, so r.mu is not needed: Intercept asks for every
// packet read.
func (r *Path) relayAt(addr netip.AddrPort) *relayEntry {
	for _, e := range r.relays {
		if e.addr == addr {
			return e
		}
	}
	return nil
}

// current is the relay in use.
func (r *Path) current() *relayEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.relays[r.cur]
}

// client is the relay client of the relay in use: lookups, relayed
// datagrams and mail go through it.
func (r *Path) client() *relay.Client { return r.current().client }

// Conn is the conn the secure layer is to run on: the socket, with the
// relay as a way to relayed people; a udp.BatchConn if the socket is one.
func (r *Path) Conn() udp.Conn { return r.conn }

// KnownKey is the key the secure layer expects at addr, if the relay path
// decides it: the relay's, or a relayed person's.
func (r *Path) KnownKey(addr netip.AddrPort) (k keys.PublicKey, decided, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.relayAt(addr); e != nil {
		return e.spec.Key, true, !e.spec.Key.IsZero()
	}
	if p := r.people[addr]; p != nil {
		return p.key, true, true
	}
	return k, false, false
}

// Verify is the secure layer's Verify for the relays and relayed people:
// each relay's key is pinned (learned and remembered on first use); a
// relayed person must hold the key the handle was made for. decided is
// false for any other address.
func (r *Path) Verify(addr netip.AddrPort, key keys.PublicKey) (err error, decided bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.relayAt(addr); e != nil {
		switch {
		case e.spec.Key.IsZero():
			e.spec.Key = key
			if err := Save(r.cfg.DataDir, r.specs()); err != nil {
				r.log.Warn("relay: " + err.Error())
			}
			return nil, true
		case e.spec.Key != key:
			return fmt.Errorf("the relay %s answered with the key %s, not the one pinned (%s): refusing it", e.spec.Host, key.Fingerprint(), e.spec.Key.Fingerprint()), true
		}
		return nil, true
	}
	if p := r.people[addr]; p != nil {
		if p.key != key {
			return fmt.Errorf("a session through the relay for %s was made with the key %s", p.key.Fingerprint(), key.Fingerprint()), true
		}
		return nil, true
	}
	if IsHandle(addr) {
		return errors.New("a session through the relay with someone it did not introduce"), true
	}
	return nil, false
}

// specs are the relays as given, with the keys learned. r.mu is held.
func (r *Path) specs() []Spec {
	specs := make([]Spec, len(r.relays))
	for i, e := range r.relays {
		specs[i] = e.spec
	}
	return specs
}

// Start makes a relay client for each relay on sec (so what it sends is
// sealed for that relay) and runs registration and path choice until ctx
// ends.
func (r *Path) Start(ctx context.Context, sec *secure.Conn) error {
	r.sec = sec
	for _, e := range r.relays {
		cfg := relay.ClientConfig{
			Conn:          sec,
			Relay:         e.addr,
			Locals:        localCandidates(sec.LocalAddr(), r.cfg.Nets),
			OnDeliver:     r.deliver,
			OnCallMeMaybe: r.callMeMaybe,
			OnRoomDeliver: func(_ keys.PublicKey, room relay.RoomID, d []byte) { r.roomCame(room, d) },
		}
		if r.cfg.OnMail != nil {
			cfg.OnMail = func(m relay.Mail) { r.mailCame(m, e) }
		}
		c, err := relay.NewClient(cfg)
		if err != nil {
			return err
		}
		e.client = c
	}
	go r.forward(ctx)
	go r.deliverRooms(ctx)
	if r.cfg.OnDemand {
		return nil
	}
	go r.register(ctx)
	if !r.cfg.NoPunch {
		go r.choosePaths(ctx)
	}
	return nil
}

// Register registers with the relay in use now, within ctx
// (Config.OnDemand), or with the next that answers.
func (r *Path) Register(ctx context.Context) error {
	var err error
	for range r.relays {
		if _, err = r.registerOnce(ctx); err == nil || ctx.Err() != nil {
			break
		}
	}
	return err
}

// HandleFor is the secure layer's HandleFor: a handshake straight from a
// relayed person (a rekey sent on the direct path) is theirs, not a new
// peer's.
func (r *Path) HandleFor(_ netip.AddrPort, key keys.PublicKey) (netip.AddrPort, bool) {
	h := Handle(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.people[h]
	return h, p != nil && p.key == key
}

// Intercept is the secure layer's Intercept: each relay's messages go to
// its relay client, the relay in use or not (one left may still deliver
// what it had queued).
func (r *Path) Intercept(pkt []byte, from netip.AddrPort) bool {
	e := r.relayAt(from)
	if e == nil || !wire.IsRelayMessage(pkt) || e.client == nil {
		return false
	}
	if err := e.client.Handle(pkt); err != nil {
		r.log.Debug("relay: a message from the relay dropped", "err", err)
	}
	return true
}

// register registers with the relay in use and refreshes as registerRule
// says, moving on to the next relay when one stops answering.
func (r *Path) register(ctx context.Context) {
	for {
		wait, _ := r.registerOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// rule is the registerRule for r's relays.
func (r *Path) rule() registerRule { return newRegisterRule(len(r.relays)) }

// registerOnce registers with the relay in use, within ctx and the rule's
// timeout, and returns how long until the next registration; if the relay
// did not answer and the rule says so, the next relay is in use after it.
func (r *Path) registerOnce(ctx context.Context) (time.Duration, error) {
	e, rule := r.current(), r.rule()
	refresh := e.client.Refresh()
	rctx, cancel := context.WithTimeout(ctx, rule.timeout(refresh))
	observed, err := e.client.Register(rctx)
	cancel()
	if err == nil {
		r.log.Debug("relay: registered", "relay", e.addr, "observed", observed)
		r.afterRegistration()
		return rule.wait(refresh), nil
	}
	r.log.Debug("relay: no answer to registration", "relay", e.addr, "err", err)
	if ctx.Err() == nil && rule.moveOn() {
		r.moveOn(e)
	}
	return registerRetry, err
}

// moveOn puts the relay after e in use, if e is still the one in use
// (the register loop and an on-demand Register may both find it dead).
func (r *Path) moveOn(e *relayEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.relays[r.cur] != e {
		return
	}
	r.cur = (r.cur + 1) % len(r.relays)
	r.log.Info("relay: no answer: trying the next", "relay", e.spec.Host, "next", r.relays[r.cur].spec.Host)
}

// PutMail leaves blob, sealed for to, in their mailbox at the relay in
// use (relay.Client's PutMail).
func (r *Path) PutMail(ctx context.Context, to keys.PublicKey, blob []byte) (uint8, error) {
	return r.client().PutMail(ctx, to, blob)
}

// mailCame notes the relay a mail came from, for its Ack, and passes the
// mail on (Config.OnMail). The notes are bounded: a mail that is never
// acknowledged (it could not be stored) comes again, and is noted again.
func (r *Path) mailCame(m relay.Mail, from *relayEntry) {
	r.mu.Lock()
	if len(r.mailFrom) >= maxMailNoted {
		clear(r.mailFrom)
	}
	r.mailFrom[m.ID] = from
	r.mu.Unlock()
	r.cfg.OnMail(m)
}

// Ack tells the relay the mail id came from that it is stored
// (relay.Client's Ack); the relay in use if that is not known.
func (r *Path) Ack(id uint64) error {
	r.mu.Lock()
	e := r.mailFrom[id]
	delete(r.mailFrom, id)
	if e == nil {
		e = r.relays[r.cur]
	}
	r.mu.Unlock()
	return e.client.Ack(id)
}

// person returns the relayed person holding key, made if new and there
// is room (else nil). r.mu is held.
func (r *Path) person(key keys.PublicKey) (netip.AddrPort, *relayedPerson) {
	h := Handle(key)
	p := r.people[h]
	if p == nil && len(r.people) < maxRelayed {
		p = &relayedPerson{key: key}
		r.people[h] = p
	}
	return h, p
}

// learn notes key's candidates and starts a burst of probes to them.
func (r *Path) learn(key keys.PublicKey, candidates []netip.AddrPort) netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, p := r.person(key)
	if p == nil {
		return h // no room: the session still goes through the relay, unpunched
	}
	if len(candidates) > 0 {
		p.candidates = slices.Clone(candidates)
	}
	p.burstUntil = time.Now().Add(punchBurst)
	p.looked = true
	return h
}

// Introduce makes the relay handle of key known (someone the chat knew
// through the relay before: its outbox names them so), with no candidates
// yet: choosePaths looks them up. It returns the handle.
func (r *Path) Introduce(key keys.PublicKey) netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, _ := r.person(key)
	return h
}

// Reach asks the relay for key's candidates and returns the handle to
// connect to: the relay carries the session until a hole is punched.
func (r *Path) Reach(ctx context.Context, key keys.PublicKey) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	e := r.current()
	candidates, err := e.client.Lookup(ctx, key)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(candidates) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s is not registered with the relay %s now", key.Fingerprint(), e.spec.Host)
	}
	return r.learn(key, candidates), nil
}

func (r *Path) callMeMaybe(from keys.PublicKey, candidates []netip.AddrPort) {
	r.learn(from, candidates)
}

// deliver reads a datagram the relay delivered as if it came from its
// sender's handle, so that it moves the sender back to the relay (roaming)
// if their direct path is dead; but while datagrams still come on the
// direct path it is read as if from there. It was sent before the sender
// moved to the direct path too, and must not move us off it.
func (r *Path) deliver(from keys.PublicKey, datagram []byte) {
	r.mu.Lock()
	h, p := r.person(from)
	r.mu.Unlock()
	if p == nil {
		return // too many people through the relay: dropped, as a full socket buffer would
	}
	at := h
	if ep, ok := r.sec.Endpoint(h); ok && ep != h {
		// Watched here too, not only by choosePath's next look: a
		// delivery right after the move (one of the many sent while the
		// relay carried the session) must not move the sender back.
		r.mux.watch(ep)
		if r.mux.heardWithin(ep, deadPath) {
			at = ep
		}
	}
	r.mux.inject(datagram, at)
}

// forward sends what the mux queued for relayed people, off the secure
// layer's locks (Forward writes on the secure conn itself).
func (r *Path) forward(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-r.mux.out:
			if err := r.client().Forward(d.to, d.datagram); err != nil {
				r.log.Debug("relay: forward", "err", err)
			}
		}
	}
}

// Describe says how the path to peer (a handle) at endpoint goes, for the
// peers panel: "relayed via HOST" (the relay in use), "direct (LAN)" or
// "direct"; "" for a peer the relay never carried.
func (r *Path) Describe(peer, endpoint netip.AddrPort) string {
	if !IsHandle(peer) {
		return ""
	}
	if !endpoint.IsValid() || endpoint == peer {
		return "relayed via " + r.current().spec.Host
	}
	if ip := endpoint.Addr(); ip.IsLoopback() || slices.ContainsFunc(r.cfg.Nets, func(n netip.Prefix) bool { return n.Contains(ip) }) {
		return "direct (LAN)"
	}
	return "direct"
}

// localCandidates are the addresses peers on our networks may reach the
// chat at: each interface address in nets (not loopback or link-local)
// with the socket's port, or the socket's address if it is bound to one.
func localCandidates(local netip.AddrPort, nets []netip.Prefix) []netip.AddrPort {
	if !local.Addr().IsUnspecified() {
		return []netip.AddrPort{local}
	}
	var out []netip.AddrPort
	for _, n := range nets {
		ip := n.Addr()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || local.Addr().Is4() && !ip.Is4() {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, local.Port()))
	}
	return out[:min(len(out), wire.MaxRelayAddrs-1)]
}
