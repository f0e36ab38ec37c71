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
	// maxRelayed bounds the people reached through the relay: anyone
	// registered may write to us through it, and each is a lookup and an
	// entry here (the secure layer's peer table holds as many).
	maxRelayed = 1024
)

// MaxPacket is the largest transport packet that fits a datagram the
// relay forwards: a secure datagram of at most wire.MaxRelayedDatagram.
const MaxPacket = wire.MaxRelayedDatagram - secure.Overhead

// Config sets up a Path. Spec and Sock are required.
type Config struct {
	Spec Spec
	// Sock is the chat's socket, which the Path wraps (Conn).
	Sock udp.Conn
	// DataDir is where the relay's key is remembered once learned.
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
	cfg    Config
	addr   netip.AddrPort
	log    *slog.Logger
	mux    *mux
	conn   udp.Conn // mux, or a batchMux over it
	client *relay.Client
	sec    *secure.Conn

	mu     sync.Mutex
	spec   Spec
	key    keys.PublicKey // the relay's: pinned, or learned on first use
	people map[netip.AddrPort]*relayedPerson
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

// New resolves cfg.Spec (within ctx) and wraps cfg.Sock in the mux that
// sends to relayed people through the relay (Conn). Start completes it
// once the secure conn on that exists.
func New(ctx context.Context, cfg Config) (*Path, error) {
	addr, err := udp.ResolvePeer(ctx, cfg.Spec.Host)
	if err != nil {
		return nil, usagef("--relay %s: %v", cfg.Spec.Host, err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Path{cfg: cfg, addr: addr, log: cfg.Log, spec: cfg.Spec, key: cfg.Spec.Key,
		people: make(map[netip.AddrPort]*relayedPerson)}
	r.mux = &mux{Conn: cfg.Sock, path: r, out: make(chan relayedDatagram, relayQueue)}
	r.conn = r.mux
	if bc, ok := cfg.Sock.(udp.BatchConn); ok {
		r.conn = &batchMux{mux: r.mux, bc: bc}
	}
	return r, nil
}

// Addr is the relay's address.
func (r *Path) Addr() netip.AddrPort { return r.addr }

// Conn is the conn the secure layer is to run on: the socket, with the
// relay as a way to relayed people; a udp.BatchConn if the socket is one.
func (r *Path) Conn() udp.Conn { return r.conn }

// KnownKey is the key the secure layer expects at addr, if the relay path
// decides it: the relay's, or a relayed person's.
func (r *Path) KnownKey(addr netip.AddrPort) (k keys.PublicKey, decided, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == r.addr {
		return r.key, true, !r.key.IsZero()
	}
	if p := r.people[addr]; p != nil {
		return p.key, true, true
	}
	return k, false, false
}

// Verify is the secure layer's Verify for the relay and relayed people:
// the relay's key is pinned (learned and remembered on first use); a
// relayed person must hold the key the handle was made for. decided is
// false for any other address.
func (r *Path) Verify(addr netip.AddrPort, key keys.PublicKey) (err error, decided bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == r.addr {
		switch {
		case r.key.IsZero():
			r.key = key
			r.spec.Key = key
			if err := Save(r.cfg.DataDir, r.spec); err != nil {
				r.log.Warn("relay: " + err.Error())
			}
			return nil, true
		case r.key != key:
			return fmt.Errorf("the relay %s answered with the key %s, not the one pinned (%s): refusing it", r.spec.Host, key.Fingerprint(), r.key.Fingerprint()), true
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

// Start makes the relay client on sec (so what it sends is sealed for the
// relay) and runs registration and path choice until ctx ends.
func (r *Path) Start(ctx context.Context, sec *secure.Conn) error {
	r.sec = sec
	c, err := relay.NewClient(relay.ClientConfig{
		Conn:          sec,
		Relay:         r.addr,
		Locals:        localCandidates(sec.LocalAddr(), r.cfg.Nets),
		OnDeliver:     r.deliver,
		OnCallMeMaybe: r.callMeMaybe,
		OnMail:        r.cfg.OnMail,
	})
	if err != nil {
		return err
	}
	r.client = c
	go r.forward(ctx)
	if r.cfg.OnDemand {
		return nil
	}
	go r.register(ctx)
	if !r.cfg.NoPunch {
		go r.choosePaths(ctx)
	}
	return nil
}

// Register registers with the relay now, within ctx (Config.OnDemand).
func (r *Path) Register(ctx context.Context) error {
	_, err := r.client.Register(ctx)
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

// Intercept is the secure layer's Intercept: the relay's messages go to
// the relay client.
func (r *Path) Intercept(pkt []byte, from netip.AddrPort) bool {
	if from != r.addr || !wire.IsRelayMessage(pkt) || r.client == nil {
		return false
	}
	if err := r.client.Handle(pkt); err != nil {
		r.log.Debug("relay: a message from the relay dropped", "err", err)
	}
	return true
}

// register registers with the relay and refreshes as often as it asks.
func (r *Path) register(ctx context.Context) {
	for {
		rctx, cancel := context.WithTimeout(ctx, r.client.Refresh())
		observed, err := r.client.Register(rctx)
		cancel()
		wait := r.client.Refresh()
		if err != nil {
			r.log.Debug("relay: no answer to registration", "relay", r.addr, "err", err)
			wait = time.Second
		} else {
			r.log.Debug("relay: registered", "relay", r.addr, "observed", observed)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// PutMail leaves blob, sealed for to, in their mailbox at the relay
// (relay.Client's PutMail).
func (r *Path) PutMail(ctx context.Context, to keys.PublicKey, blob []byte) (uint8, error) {
	return r.client.PutMail(ctx, to, blob)
}

// Ack tells the relay the mail id is stored (relay.Client's Ack).
func (r *Path) Ack(id uint64) error { return r.client.Ack(id) }

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
	candidates, err := r.client.Lookup(ctx, key)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(candidates) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s is not registered with the relay %s now", key.Fingerprint(), r.cfg.Spec.Host)
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
			if err := r.client.Forward(d.to, d.datagram); err != nil {
				r.log.Debug("relay: forward", "err", err)
			}
		}
	}
}

// Describe says how the path to peer (a handle) at endpoint goes, for the
// peers panel: "relayed via HOST", "direct (LAN)" or "direct"; "" for a
// peer the relay never carried.
func (r *Path) Describe(peer, endpoint netip.AddrPort) string {
	if !IsHandle(peer) {
		return ""
	}
	if !endpoint.IsValid() || endpoint == peer {
		return "relayed via " + r.cfg.Spec.Host
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
