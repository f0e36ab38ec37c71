// Package secure is udpchat's encryption layer: a udp.Conn that wraps another
// and carries every datagram through it encrypted and authenticated, with
// Noise sessions per peer, so that the transport above it works unchanged
// and never sees a handshake, a forgery or a replay.
//
// Sessions come from Noise_IK_25519_ChaChaPoly_BLAKE2s when the peer's static
// key is known (Config.KnownKey, or the key of the previous session) and
// Noise_XX_25519_ChaChaPoly_BLAKE2s when it is not, or when IK goes
// unanswered (the key may have changed). Config.Verify decides whether a key
// is trusted. Data datagrams carry an explicit 64-bit counter, the AEAD
// nonce, and a sliding replay window (package replay) drops duplicates and
// very old packets. As in WireGuard, a session is found by the receiver
// index a datagram carries, not by its source: a peer keeps one handle (the
// address it first came from or we first wrote to: what ReadFrom returns and
// WriteTo takes) and is sent to at its endpoint, which the newest authentic
// datagram from elsewhere moves (roaming: OnRoam, Endpoint). DoS defences
// follow WireGuard: initiations are padded so no reply is larger (no
// amplification), carry mac1 (junk filter) and, under load, mac2 (a cookie
// proving the source address), and each source is rate limited (package
// ratelimit). docs/PROTOCOL.md (the secure layer, sections S1-S10) has the
// byte layouts and the state machine.
//
// A peer's session life, from the side that writes first:
//
//	[no session] --WriteTo: queue packet, send initiation--> [initiating]
//	[initiating] --HandshakeRetry passes (lazily, on a read or write): new initiation (IK×IKAttempts, then XX)
//	[initiating] --cookie reply: store cookie, initiate again at once with mac2
//	[initiating] --response (IK) / response + our msg3 (XX); Verify ok--> [session] (queue flushed)
//	[session] --RekeyAfterPackets/Time, or RekeyAfterSilence--> [session + initiating]: old keys keep
//	           working until the new session replaces them, and accept data until RejectAfterTime
//
// and from the side that answers: an initiation (mac1 ok; under load mac2 ok,
// else a cookie reply; rate limit ok) makes a half-open handshake, bounded by
// MaxHalfOpen; XX completes when msg3 arrives, IK when the first data does.
//
// There is no goroutine: timers (retries, rekeys, expiry) are checked when
// ReadFrom or WriteTo (or their batch forms) run, and the transport writes at
// least every keepalive.
//
// The files follow docs/PROTOCOL.md's sections. conn.go is the Conn: its
// API and lifecycle, the peer table, and sending (S5.1); batch.go reads and
// writes many datagrams a call of the conn below (udp.BatchConn);
// handshake.go initiates and responds (S5.2, S5.3), with cookie.go's MACs
// and cookies (S6); receive.go takes each datagram that arrives by its
// type, and opens data and refusals (S5.4); rekey.go rotates a peer's key
// pairs: which one sends, installing, promoting and retiring them (S5.5);
// sweep.go runs the timers (expiry, handshake retries, idle peers). peer.go
// holds the state per peer and per key pair (sealing, opening), config.go
// the knobs and stats.go the counters.
package secure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flynn/noise"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure/ratelimit"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// Overhead is what the secure layer adds to every transport packet: the data
// datagram's header (version, type, receiver index, counter) and the AEAD tag.
const Overhead = wire.DataOverhead

// MaxPacket is the largest transport packet that goes in a datagram of
// wire.MaxDatagram, the size every path carries: a transport over a
// secure.Conn builds packets of at most this many bytes until path MTU
// discovery finds the path carries more.
const MaxPacket = wire.MaxDatagram - Overhead

// MaxPathPacket is the largest transport packet a Conn carries, in a
// datagram of wire.MaxPathDatagram: the ceiling of path MTU discovery.
const MaxPathPacket = wire.MaxPathDatagram - Overhead

// prologue binds every handshake to this protocol and version.
const prologue = "udpchat v1"

const (
	// halfOpenTimeout is how long a handshake we answered may wait for its
	// completion (XX: msg3; IK: the first packet, which the transport sends
	// at least every keepalive).
	halfOpenTimeout = 15 * time.Second
	// handshakeGiveUp: a handshake of ours is abandoned, with its queue,
	// when nothing has been written to the peer for this long.
	handshakeGiveUp = 30 * time.Second
	// underLoadFor: once under load, we stay so this long.
	underLoadFor = time.Second
	// sweepInterval is how often expiry and lazy retries run.
	sweepInterval = time.Second
	// rateLimitSources bounds each rate limiter's table.
	rateLimitSources = 4096
)

// Errors.
var (
	// ErrTooBig: a packet too large for a datagram after encryption.
	ErrTooBig = fmt.Errorf("secure: packet over %d bytes (wire.MaxPathDatagram %d less the %d bytes of encryption "+
		"overhead): the transport must build smaller packets", MaxPathPacket, wire.MaxPathDatagram, Overhead)
	// ErrTooManyPeers: a write to a new address with the peer table full.
	ErrTooManyPeers = errors.New("secure: too many peers")
)

var cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// Conn is a udp.Conn whose datagrams are encrypted and authenticated per
// peer. See the package doc.
type Conn struct {
	inner  udp.Conn
	bc     udp.BatchConn // inner, if it batches (see batch.go)
	cfg    Config
	log    *slog.Logger
	static noise.DHKey
	public keys.PublicKey

	// Keys derived from labels and our public key, fixed at start.
	ikMAC1Key, xxMAC1Key     [32]byte // to check initiations to us
	ikCookieKey, xxCookieKey [32]byte // to seal our cookie replies

	cookies  cookieJar          // our cookie secret (its own lock)
	unproven *ratelimit.Limiter // initiations without a valid mac2, per source
	proven   *ratelimit.Limiter // initiations with one: a spoofer cannot drain these

	rxBufs    sync.Pool // *[]byte of wire.MaxPathDatagram+1, for reading the inner conn
	closed    atomic.Bool
	lastSweep atomic.Int64  // UnixNano of the last sweep
	sweeping  atomic.Bool   // a sweep is running (one at a time: it owns sweepPeers)
	kpSeq     atomic.Uint64 // numbers keypairs in creation order
	logLimit  logLimiter
	count     counters
	onRoam    atomic.Pointer[func(peer, endpoint netip.AddrPort)]

	// mu guards the fields below. It is a leaf lock: it may be taken with a
	// peer's lock held, never the other way round, and nothing slow runs
	// under it (no crypto, no I/O).
	mu    sync.Mutex
	peers map[netip.AddrPort]*peer // by handle
	// roamed holds the peers whose endpoint is not their handle, by
	// endpoint: an initiation from there (a rekey, say) belongs to them. At
	// most one entry a peer, so bounded like peers.
	roamed   map[netip.AddrPort]*peer
	index    map[uint32]*slot
	halfOpen int // slots holding a responder's handshake
	load     struct {
		windowStart time.Time // of the current one-second count
		n           int       // initiations counted in it
		until       time.Time // under load until then
	}
	sweepPeers []*peer // the sweep's scratch space (one sweep at a time)
}

// slot is what an index names: a handshake in progress, or the session it
// made. c.mu guards its fields.
type slot struct {
	addr netip.AddrPort // where a handshake we answer came from
	peer *peer          // nil for a handshake we answer, until it completes
	hs   *handshake     // a handshake in progress, or nil
	kp   *keypair       // the session, once hs completed
}

// source is where datagrams naming s must come from: its peer's endpoint,
// or, for a handshake we answer, the initiation's source. c.mu is held.
func (s *slot) source() netip.AddrPort {
	if s.peer != nil {
		return s.peer.endpoint
	}
	return s.addr
}

var _ udp.Conn = (*Conn)(nil)

// NewConn wraps inner. The Conn owns inner from now on: Close closes it.
func NewConn(inner udp.Conn, cfg Config) (*Conn, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	pub := cfg.Static.Public()
	c := &Conn{
		inner:    inner,
		cfg:      cfg,
		log:      cfg.Logger,
		static:   noise.DHKey{Private: append([]byte(nil), cfg.Static[:]...), Public: append([]byte(nil), pub[:]...)},
		public:   pub,
		unproven: ratelimit.New(cfg.PerSourceRate, cfg.PerSourceBurst, rateLimitSources),
		proven:   ratelimit.New(cfg.PerSourceRate, cfg.PerSourceBurst, rateLimitSources),
		peers:    make(map[netip.AddrPort]*peer),
		roamed:   make(map[netip.AddrPort]*peer),
		index:    make(map[uint32]*slot),
	}
	var zero keys.PublicKey
	c.bc, _ = inner.(udp.BatchConn)
	c.ikMAC1Key, c.xxMAC1Key = labelKey(labelMAC1, &pub), labelKey(labelMAC1, &zero)
	c.ikCookieKey, c.xxCookieKey = labelKey(labelCookie, &pub), labelKey(labelCookie, &zero)
	c.rxBufs.New = func() any {
		b := make([]byte, wire.MaxPathDatagram+1) // one more, to see an oversized datagram
		return &b
	}
	c.lastSweep.Store(time.Now().UnixNano())
	return c, nil
}

// PublicKey is our identity as peers see it.
func (c *Conn) PublicKey() keys.PublicKey { return c.public }

// MaxPacket is the largest packet WriteTo takes (the constant
// MaxPathPacket), so a layer above can find its budget from the conn it is
// given.
func (c *Conn) MaxPacket() int { return MaxPathPacket }

// LocalAddr is the inner conn's.
func (c *Conn) LocalAddr() netip.AddrPort { return c.inner.LocalAddr() }

// Close closes the inner conn, which unblocks ReadFrom; later calls return
// errors wrapping net.ErrClosed.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.inner.Close()
}

// PeerKey returns the verified static key of the current session with peer.
func (c *Conn) PeerKey(peer netip.AddrPort) (keys.PublicKey, bool) {
	c.mu.Lock()
	p := c.peers[udp.Unmap(peer)]
	c.mu.Unlock()
	if p == nil {
		return keys.PublicKey{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil || p.current.retired {
		return keys.PublicKey{}, false
	}
	return p.current.remoteKey, true
}

// Stats returns the counters and the current table sizes.
func (c *Conn) Stats() Stats {
	s := c.count.snapshot()
	c.mu.Lock()
	s.Peers, s.Roamed, s.HalfOpen, s.Indexes = len(c.peers), len(c.roamed), c.halfOpen, len(c.index)
	c.mu.Unlock()
	s.RateLimitSources = c.unproven.Len() + c.proven.Len()
	return s
}

// ReadFrom returns the next transport packet that arrives, decrypted, and the
// peer it came from, by its handle: the address it first came from or we
// first wrote to, however often it has moved since (see Endpoint).
// Handshake datagrams are answered on the way; junk, forgeries and replays
// are dropped and counted. A packet larger than b is cut, as UDP cuts it.
func (c *Conn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	bp := c.rxBufs.Get().(*[]byte)
	defer c.rxBufs.Put(bp)
	in := [1]udp.Message{{Buf: *bp}}
	out := [1]udp.Message{{Buf: b}}
	for {
		var err error
		if in[0].N, in[0].Addr, err = c.inner.ReadFrom(in[0].Buf); err != nil {
			return 0, netip.AddrPort{}, c.closedErr("read", err)
		}
		if c.openAll(in[:], out[:]) == 1 {
			return out[0].N, out[0].Addr, nil
		}
	}
}

// openAll takes the datagrams read into in, one by one and each as it
// comes (handshakes answered, the rest dropped and counted), and puts the
// packets they carried into out, in order, cut to fit each buffer as UDP
// would, each with its peer's handle; it returns how many. out must be as
// long as in.
func (c *Conn) openAll(in, out []udp.Message) int {
	now := time.Now()
	c.maybeSweep(now)
	c.count.datagramsIn.Add(uint64(len(in)))
	k := 0
	for i := range in {
		pkt, peer := c.receive(in[i].Buf[:in[i].N], udp.Unmap(in[i].Addr), now)
		if len(pkt) == 0 { // nothing, or a keepalive (a probe: see Probe)
			continue
		}
		if c.cfg.Intercept != nil && c.cfg.Intercept(pkt, peer) {
			continue
		}
		out[k].N, out[k].Addr = copy(out[k].Buf, pkt), peer
		k++
	}
	return k
}

// WriteTo encrypts pkt for the peer whose handle is addr and sends it to
// the peer's endpoint (addr itself, unless the peer moved); with no session
// yet, it queues a copy (at most 16 per peer, the oldest dropped first) and
// starts a handshake. It never waits for the network. A packet that would
// not fit in a datagram once encrypted (over MaxPathPacket) is an error
// wrapping ErrTooBig.
func (c *Conn) WriteTo(pkt []byte, addr netip.AddrPort) (int, error) {
	if c.closed.Load() {
		return 0, fmt.Errorf("secure: write to %s: %w", addr, net.ErrClosed)
	}
	now := time.Now()
	c.maybeSweep(now)
	if err := c.send(pkt, addr, now, nil); err != nil {
		return 0, err
	}
	return len(pkt), nil
}

// send is WriteTo's work, and WriteBatch's for each packet: with tx, the
// sealed datagram joins tx instead of going at once.
func (c *Conn) send(pkt []byte, addr netip.AddrPort, now time.Time, tx *txBatch) error {
	addr = udp.Unmap(addr)
	if len(pkt) > MaxPathPacket {
		c.count.drops[DropOversize].Add(1)
		return fmt.Errorf("secure: write to %s: %d bytes: %w", addr, len(pkt), ErrTooBig)
	}
	for {
		p := c.peerFor(addr, true)
		if p == nil {
			c.count.drops[DropTooManyPeers].Add(1)
			return fmt.Errorf("secure: write to %s: %w (%d)", addr, ErrTooManyPeers, c.cfg.MaxPeers)
		}
		p.mu.Lock()
		if p.removed { // the sweep took it out just now
			p.mu.Unlock()
			continue
		}
		err := c.sendLocked(p, pkt, now, tx)
		p.mu.Unlock()
		return err
	}
}

// peerFor returns the peer at addr, creating it if create is set and there is
// room (nil if not). A full table makes room by evicting the peer that has
// not proved itself for longest, if that was at least evictAfter ago: a
// handshake that was never followed by data, a session gone silent. A peer
// in a conversation proves itself every keepalive, so a burst of newcomers
// never evicts it; without this, a thousand handshakes would lock out new
// contacts until their sessions expired.
func (c *Conn) peerFor(addr netip.AddrPort, create bool) *peer {
	c.mu.Lock()
	if p := c.peers[addr]; p != nil || !create {
		c.mu.Unlock()
		return p
	}
	now := time.Now()
	var victim *peer
	if len(c.peers) >= c.cfg.MaxPeers {
		if victim = c.evictableLocked(now); victim == nil {
			c.mu.Unlock()
			return nil
		}
		c.removeLocked(victim)
		c.count.evicted.Add(1)
	}
	p := &peer{addr: addr, endpoint: addr, buf: make([]byte, 0, wire.MaxDatagram)}
	p.heard.Store(now.UnixNano())
	c.peers[addr] = p
	c.mu.Unlock()
	if victim != nil {
		c.log.Debug("secure: peer table full: evicting the longest silent", "peer", victim.addr, "for", addr)
		c.drain(victim)
	}
	return p
}

// evictAfter is how long a peer must have been silent before a newcomer may
// take its place in a full table.
const evictAfter = time.Second

// evictableLocked is the peer a newcomer may replace, or nil. c.mu is held.
// It looks at every peer: bounded, and only when the table is full.
func (c *Conn) evictableLocked(now time.Time) *peer {
	var victim *peer
	var oldest int64
	for _, p := range c.peers {
		if h := p.heard.Load(); now.UnixNano()-h >= int64(evictAfter) && (victim == nil || h < oldest) {
			victim, oldest = p, h
		}
	}
	return victim
}

// Forget drops everything about peer: its sessions, our handshake and the
// packets queued for it. The transport calls it when it forgets a peer
// (transport.Forgetter), so that this table is bounded and recovers as its
// own does. A packet to peer later starts afresh, with a handshake.
func (c *Conn) Forget(peer netip.AddrPort) {
	peer = udp.Unmap(peer)
	c.mu.Lock()
	p := c.peers[peer]
	if p != nil {
		c.removeLocked(p)
	}
	c.mu.Unlock()
	if p != nil {
		c.count.forgotten.Add(1)
		c.drain(p)
	}
}

// removeLocked takes p out of the peer table and the endpoint index. c.mu is
// held.
func (c *Conn) removeLocked(p *peer) {
	if c.peers[p.addr] == p {
		delete(c.peers, p.addr)
	}
	if c.roamed[p.endpoint] == p {
		delete(c.roamed, p.endpoint)
	}
}

// moveLocked moves p's endpoint to to. p.mu and c.mu are held.
func (c *Conn) moveLocked(p *peer, to netip.AddrPort) {
	if c.roamed[p.endpoint] == p {
		delete(c.roamed, p.endpoint)
	}
	p.endpoint = to
	if to != p.addr {
		c.roamed[to] = p
	}
}

// Endpoint returns where datagrams to peer (a handle, as ReadFrom returns
// and WriteTo takes) go now: the address its latest datagrams came from.
func (c *Conn) Endpoint(peer netip.AddrPort) (netip.AddrPort, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[udp.Unmap(peer)]
	if p == nil {
		return netip.AddrPort{}, false
	}
	return p.endpoint, true
}

// OnRoam sets f, called whenever a peer moves to a new endpoint (roaming,
// docs/PROTOCOL.md S5.4): peer is its handle, endpoint where it is now. f
// runs on the goroutine that read the datagram (ReadFrom), with no lock
// held; it must not block. The transport sets it (transport.RoamingConn) to
// tell the layer above.
func (c *Conn) OnRoam(f func(peer, endpoint netip.AddrPort)) { c.onRoam.Store(&f) }

// roam tells OnRoam's function, if any, that peer moved to endpoint, and
// counts the move. No lock is held.
func (c *Conn) roam(peer, endpoint netip.AddrPort) {
	c.count.roams.Add(1)
	c.log.Debug("secure: peer moved", "peer", peer, "endpoint", endpoint)
	if f := c.onRoam.Load(); f != nil {
		(*f)(peer, endpoint)
	}
}

// drain takes p, already out of the table, out of service: whoever holds it
// looks it up again (removed), and its indexes go.
func (c *Conn) drain(p *peer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removed = true
	c.abandon(p)
	for len(p.keys) > 0 {
		c.retire(p, p.keys[0])
	}
	p.current, p.queue = nil, nil
}

// sendLocked sends pkt to p (with tx, adds it to tx), or queues it and sees
// to a handshake. p.mu is held.
func (c *Conn) sendLocked(p *peer, pkt []byte, now time.Time, tx *txBatch) error {
	p.lastWrite = now
	kp := c.usableCurrent(p, now)
	if kp == nil {
		if p.enqueue(pkt) {
			c.count.drops[DropQueueFull].Add(1)
		}
		c.ensureHandshake(p, now, false)
		return nil
	}
	for _, k := range p.keys {
		// Resend our XX msg3 for a session that is, or would become,
		// current once the peer has it.
		if k.finish != nil && k.seq >= kp.seq && now.Sub(k.finishSent) >= c.cfg.HandshakeRetry {
			c.write(k.finish, p.endpoint) // the peer may not have our XX msg3 yet
			k.finishSent = now
		}
	}
	err := c.writeData(p, kp, pkt, tx)
	if p.sendingSince.IsZero() {
		p.sendingSince = now
	}
	switch {
	case p.hs != nil && p.hs.rekey:
		c.ensureHandshake(p, now, true) // a rekey in progress: retry if due
	case p.hs != nil:
		// The peer's handshake gave us a session first. Ours may still
		// complete (its answer may be on the way: a second session does no
		// harm); if it has waited a full retry, forget it.
		if now.Sub(p.hs.started) >= c.cfg.HandshakeRetry {
			c.abandon(p)
		}
	case c.wantRekey(p, kp, now):
		c.ensureHandshake(p, now, true)
	}
	return err
}

// writeData seals pkt on kp and sends it to p, or with tx, adds it to tx
// for WriteBatch to send. p.mu is held.
func (c *Conn) writeData(p *peer, kp *keypair, pkt []byte, tx *txBatch) error {
	c.count.packetsOut.Add(1)
	if tx != nil {
		tx.add(kp.seal(tx.next(), pkt), p.endpoint)
		c.count.datagramsOut.Add(1)
		return nil
	}
	b := kp.seal(p.buf[:0], pkt)
	p.buf = b[:0] // keep it grown to the largest datagram sealed
	return c.write(b, p.endpoint)
}

// write sends a datagram on the inner conn.
func (c *Conn) write(b []byte, addr netip.AddrPort) error {
	c.count.datagramsOut.Add(1)
	if _, err := c.inner.WriteTo(b, addr); err != nil {
		return c.closedErr("write to "+addr.String(), err)
	}
	return nil
}

// closedErr is err from op on the inner conn, said to wrap net.ErrClosed if
// we closed it (the inner conn may say otherwise).
func (c *Conn) closedErr(op string, err error) error {
	if c.closed.Load() && !errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("secure: %s: %w (%v)", op, net.ErrClosed, err)
	}
	return err
}

// Refuse tells peer, on its current session, that the layer above refused
// what it sent (its name, say: see Config.Verify for refusals of its key):
// a refusal, sealed in the session, which the peer's Config.PeerRefused
// hears of. At most one a HandshakeRetry per peer: the peer resends what
// was refused, and one refusal a resend would be noise. Without a current
// session it does nothing.
func (c *Conn) Refuse(peer netip.AddrPort) {
	c.mu.Lock()
	p := c.peers[udp.Unmap(peer)]
	c.mu.Unlock()
	if p == nil {
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	kp := c.usableCurrent(p, now)
	if kp == nil || now.Sub(p.lastRefusal) < c.cfg.HandshakeRetry {
		return
	}
	p.lastRefusal = now
	c.write(kp.sealRefusal(p.buf[:0]), p.endpoint)
}

// newIndexLocked picks an unused random index (never 0). c.mu is held.
func (c *Conn) newIndexLocked() uint32 {
	for {
		i := randUint32()
		if _, used := c.index[i]; i != 0 && !used {
			return i
		}
	}
}

// verify asks Config.Verify about key.
func (c *Conn) verify(addr netip.AddrPort, key keys.PublicKey) error {
	if c.cfg.Verify == nil {
		return nil
	}
	return c.cfg.Verify(addr, key)
}

// reasonOf maps a wire parse error to a drop reason (wire.DropOf).
func reasonOf(err error) DropReason { return DropReason(wire.DropOf(err)) }

// drop counts a dropped datagram and logs it (at Debug, rate-limited).
func (c *Conn) drop(reason DropReason, from netip.AddrPort, err error) {
	c.count.drops[reason].Add(1)
	if c.log.Enabled(context.Background(), slog.LevelDebug) && c.logLimit.allow(time.Now()) {
		c.log.Debug("secure: drop", "reason", reason.String(), "from", from, "err", err)
	}
}

// logLimiter lets through at most logsPerSecond per-datagram log lines a
// second, so a flood cannot flood the log too.
type logLimiter struct {
	window atomic.Int64 // the second (Unix) being counted
	n      atomic.Int64
}

const logsPerSecond = 10

func (l *logLimiter) allow(now time.Time) bool {
	sec := now.Unix()
	if w := l.window.Load(); w != sec && l.window.CompareAndSwap(w, sec) {
		l.n.Store(0)
	}
	return l.n.Add(1) <= logsPerSecond
}
