package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// Across the internet (--relay): the chat registers with a relay by its
// key, on its own socket, so the address the relay observes is the one its
// peers punch to. A person reached through the relay has a handle of their
// own, relayHandle(key): an address in the discard-only prefix 100::/64
// (RFC 6666) that no packet is ever sent to. Datagrams the secure layer
// writes to it go through the relay, addressed by key (relayMux), and those
// the relay delivers from that person are read as if they came from it. The
// secure layer's roaming does the rest: the first authentic datagram from a
// direct address (a probe, once a hole is punched) moves the person's
// endpoint there, and when the direct path goes silent the endpoint goes
// back to the handle, the relay.

// relayFile, in the data dir, remembers the relay: KEY@HOST:PORT.
const relayFile = "relay"

// noPunchEnv, set to 1, keeps the chat from probing for direct paths: the
// relay carries everything. It is for tests of the relayed path on one
// machine, where every direct path works.
const noPunchEnv = "UDPCHAT_NO_PUNCH"

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
	// relayKeepalive is the transport's keepalive with a relay: each side
	// of a quiet session pings this often, and the other answers, so a
	// path silent for longer is dead (deadPath). (It also keeps the NATs'
	// mappings open.)
	relayKeepalive = 2 * time.Second
	// deadPath is how long a direct path may go unanswered while we send
	// before the relay takes over: the transport acknowledges every
	// packet that asks within a round trip, and a quiet peer pings every
	// relayKeepalive, so this is a keepalive and many round trips.
	deadPath = relayKeepalive + time.Second
	// relayQueue bounds the datagrams waiting to go through the relay.
	relayQueue = 256
	// maxRelayed bounds the people reached through the relay: anyone
	// registered may write to us through it, and each is a lookup and an
	// entry here (the secure layer's peer table holds as many).
	maxRelayed = 1024
)

// relayedPacket is the largest transport packet that fits a datagram the
// relay forwards: a secure datagram of at most wire.MaxRelayedDatagram.
const relayedPacket = wire.MaxRelayedDatagram - secure.Overhead

// relayPrefix is RFC 6666's discard-only prefix, 100::/64.
var relayPrefix = netip.MustParsePrefix("100::/64")

// relayHandle is the handle of the person holding key, reached through the
// relay.
func relayHandle(key keys.PublicKey) netip.AddrPort {
	var a [16]byte
	a[0] = 0x01
	copy(a[8:], key[:8])
	return netip.AddrPortFrom(netip.AddrFrom16(a), relay.DefaultPort)
}

// isRelayHandle says whether addr is a relayHandle.
func isRelayHandle(addr netip.AddrPort) bool { return relayPrefix.Contains(addr.Addr()) }

// relaySpec is --relay: the relay's address as given, and its key if
// given (KEY@HOST:PORT) or remembered.
type relaySpec struct {
	host string
	key  keys.PublicKey // zero: learned on first use
}

// parseRelaySpec parses [KEY@]HOST[:PORT].
func parseRelaySpec(s string) (relaySpec, error) {
	var spec relaySpec
	if k, host, ok := strings.Cut(s, "@"); ok {
		if err := spec.key.UnmarshalText([]byte(k)); err != nil {
			return spec, usagef("--relay %q: the part before @ is not a relay's key (udpchat relay id prints it): %v", s, err)
		}
		s = host
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		s = net.JoinHostPort(strings.Trim(s, "[]"), fmt.Sprint(relay.DefaultPort))
	}
	spec.host = s
	return spec, nil
}

func (s relaySpec) String() string {
	if s.key.IsZero() {
		return s.host
	}
	k, _ := s.key.MarshalText()
	return string(k) + "@" + s.host
}

// chooseRelay is the relay to use: given (and then remembered) or the one
// remembered in dataDir, whose key is pinned if it was learned before; ok
// is false for none.
func chooseRelay(given, dataDir string) (spec relaySpec, ok bool, err error) {
	var saved relaySpec
	if b, err := os.ReadFile(filepath.Join(dataDir, relayFile)); err == nil {
		saved, _ = parseRelaySpec(strings.TrimSpace(string(b))) // a damaged file: start afresh
	}
	if given == "" {
		return saved, saved.host != "", nil
	}
	if spec, err = parseRelaySpec(given); err != nil {
		return spec, false, err
	}
	if spec.key.IsZero() && spec.host == saved.host {
		spec.key = saved.key // pinned on first use, like a peer's
	}
	return spec, true, saveRelay(dataDir, spec)
}

func saveRelay(dataDir string, spec relaySpec) error {
	if err := os.WriteFile(filepath.Join(dataDir, relayFile), []byte(spec.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("cannot remember the relay: %v", err)
	}
	return nil
}

// relayPath is the chat's relay client and the paths of the people it
// reaches through it.
type relayPath struct {
	spec    relaySpec
	addr    netip.AddrPort
	dataDir string
	log     *slog.Logger
	mux     *relayMux
	client  *relay.Client
	sec     *secure.Conn

	// nets are this machine's networks, for describe (which runs under
	// the chat's lock: no system call there).
	nets []netip.Prefix

	// mail is what the relay client fetched from our mailbox, for
	// runMail; nil (nothing fetched) for udpchat send.
	mail chan relay.Mail

	mu     sync.Mutex
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

// newRelayPath resolves spec and wraps sock in the mux that sends to
// relayed people through the relay. start completes it once the secure
// conn exists.
func newRelayPath(ctx context.Context, spec relaySpec, sock udp.Conn, dataDir string, log *slog.Logger) (*relayPath, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addr, err := udp.ResolvePeer(ctx, spec.host)
	if err != nil {
		return nil, usagef("--relay %s: %v", spec.host, err)
	}
	if err := checkFamily("--relay "+spec.host, addr, sock.LocalAddr()); err != nil {
		return nil, usageError{err}
	}
	r := &relayPath{spec: spec, addr: addr, dataDir: dataDir, log: log, key: spec.key, nets: localNets(),
		people: make(map[netip.AddrPort]*relayedPerson)}
	r.mux = &relayMux{Conn: sock, path: r, out: make(chan relayedDatagram, relayQueue)}
	return r, nil
}

// knownKey is the key the secure layer expects at addr, if the relay path
// decides it: the relay's, or a relayed person's.
func (r *relayPath) knownKey(addr netip.AddrPort) (k keys.PublicKey, decided, ok bool) {
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

// verify is the secure layer's Verify for the relay and relayed people:
// the relay's key is pinned (learned and remembered on first use); a
// relayed person must hold the key the handle was made for. decided is
// false for any other address.
func (r *relayPath) verify(addr netip.AddrPort, key keys.PublicKey) (err error, decided bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == r.addr {
		switch {
		case r.key.IsZero():
			r.key = key
			r.spec.key = key
			if err := saveRelay(r.dataDir, r.spec); err != nil {
				r.log.Warn("relay: " + err.Error())
			}
			return nil, true
		case r.key != key:
			return fmt.Errorf("the relay %s answered with the key %s, not the one pinned (%s): refusing it", r.spec.host, key.Fingerprint(), r.key.Fingerprint()), true
		}
		return nil, true
	}
	if p := r.people[addr]; p != nil {
		if p.key != key {
			return fmt.Errorf("a session through the relay for %s was made with the key %s", p.key.Fingerprint(), key.Fingerprint()), true
		}
		return nil, true
	}
	if isRelayHandle(addr) {
		return errors.New("a session through the relay with someone it did not introduce"), true
	}
	return nil, false
}

// start makes the relay client on sec (so what it sends is sealed for the
// relay) and runs registration and path choice until ctx ends.
func (r *relayPath) start(ctx context.Context, sec *secure.Conn) error {
	r.sec = sec
	cfg := relay.ClientConfig{
		Conn:          sec,
		Relay:         r.addr,
		Locals:        localCandidates(sec.LocalAddr()),
		OnDeliver:     r.deliver,
		OnCallMeMaybe: r.callMeMaybe,
	}
	if r.mail != nil {
		cfg.OnMail = r.onMail
	}
	c, err := relay.NewClient(cfg)
	if err != nil {
		return err
	}
	r.client = c
	go r.forward(ctx)
	go r.register(ctx)
	if os.Getenv(noPunchEnv) != "1" {
		go r.choosePaths(ctx)
	}
	return nil
}

// handleFor is the secure layer's HandleFor: a handshake straight from a
// relayed person (a rekey sent on the direct path) is theirs, not a new
// peer's.
func (r *relayPath) handleFor(_ netip.AddrPort, key keys.PublicKey) (netip.AddrPort, bool) {
	h := relayHandle(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.people[h]
	return h, p != nil && p.key == key
}

// intercept is the secure layer's Intercept: the relay's messages go to the
// relay client.
func (r *relayPath) intercept(pkt []byte, from netip.AddrPort) bool {
	if from != r.addr || !wire.IsRelayMessage(pkt) || r.client == nil {
		return false
	}
	if err := r.client.Handle(pkt); err != nil {
		r.log.Debug("relay: a message from the relay dropped", "err", err)
	}
	return true
}

// register registers with the relay and refreshes as often as it asks.
func (r *relayPath) register(ctx context.Context) {
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

// person returns the relayed person holding key, made if new and there
// is room (else nil). r.mu is held.
func (r *relayPath) person(key keys.PublicKey) (netip.AddrPort, *relayedPerson) {
	h := relayHandle(key)
	p := r.people[h]
	if p == nil && len(r.people) < maxRelayed {
		p = &relayedPerson{key: key}
		r.people[h] = p
	}
	return h, p
}

// learn notes key's candidates and starts a burst of probes to them.
func (r *relayPath) learn(key keys.PublicKey, candidates []netip.AddrPort) netip.AddrPort {
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

// introduce makes the relay handle of key known (someone the chat knew
// through the relay before: its outbox names them so), with no candidates
// yet: choosePaths looks them up.
func (r *relayPath) introduce(key keys.PublicKey) {
	r.mu.Lock()
	r.person(key)
	r.mu.Unlock()
}

// reach asks the relay for key's candidates and returns the handle to
// connect to: the relay carries the session until a hole is punched.
func (r *relayPath) reach(ctx context.Context, key keys.PublicKey) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	candidates, err := r.client.Lookup(ctx, key)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(candidates) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s is not registered with the relay %s now", key.Fingerprint(), r.spec.host)
	}
	return r.learn(key, candidates), nil
}

func (r *relayPath) callMeMaybe(from keys.PublicKey, candidates []netip.AddrPort) {
	r.learn(from, candidates)
}

// deliver reads a datagram the relay delivered as if it came from its
// sender's handle, so that it moves the sender back to the relay (roaming)
// if their direct path is dead; but while datagrams still come on the
// direct path it is read as if from there. It was sent before the sender
// moved to the direct path too, and must not move us off it.
func (r *relayPath) deliver(from keys.PublicKey, datagram []byte) {
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
func (r *relayPath) forward(ctx context.Context) {
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

// choosePaths probes each relayed person's candidates while the relay
// carries them, and gives a direct path up for the relay when it goes
// silent.
func (r *relayPath) choosePaths(ctx context.Context) {
	t := time.NewTicker(probeFast)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, k := range r.unlooked() {
			go func() { // someone who wrote first, or known from before: punch back
				if _, err := r.reach(ctx, k); err != nil {
					r.log.Debug("relay: lookup", "key", k.Fingerprint(), "err", err)
				}
			}()
		}
		for _, h := range r.handles() {
			r.choosePath(h, time.Now())
		}
	}
}

// unlooked are the relayed people whose candidates no one asked for yet.
func (r *relayPath) unlooked() []keys.PublicKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []keys.PublicKey
	for _, p := range r.people {
		if !p.looked {
			p.looked = true
			ks = append(ks, p.key)
		}
	}
	return ks
}

func (r *relayPath) handles() []netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := make([]netip.AddrPort, 0, len(r.people))
	for h := range r.people {
		hs = append(hs, h)
	}
	return hs
}

// choosePath looks at the path to the relayed person h: a direct one that
// went silent is given up for the relay; while the relay carries them,
// their candidates are probed. The secure conn is asked with r.mu free:
// the secure layer calls into r (knownKey, verify) with its own locks held.
func (r *relayPath) choosePath(h netip.AddrPort, now time.Time) {
	ep, ok := r.sec.Endpoint(h)
	if !ok {
		return // no session yet
	}
	dead := ep != h && r.sec.Silent(h) >= deadPath
	r.mu.Lock()
	p := r.people[h]
	if p == nil {
		r.mu.Unlock()
		return
	}
	var probe []netip.AddrPort
	report := false
	switch {
	case dead:
		p.reported = false
		p.burstUntil = now.Add(punchBurst)
	case ep != h:
		report, p.reported = !p.reported, true
		r.mux.watch(ep)
	case now.Before(p.burstUntil) || now.Sub(p.lastProbe) >= probeSlow:
		p.lastProbe = now
		probe = p.candidates
	}
	key := p.key
	r.mu.Unlock()
	switch {
	case dead:
		r.log.Debug("relay: the direct path went silent: back through the relay", "peer", key.Fingerprint(), "was", ep)
		r.sec.SetEndpoint(h, h)
	case report:
		r.log.Debug("relay: a direct path", "peer", key.Fingerprint(), "at", ep)
		r.client.ReportPunch(key, true)
		// Answer on it at once: the peer's probe opened it, and the peer
		// moves only when something authentic comes back that way, which
		// would otherwise wait for a message or the next keepalive.
		r.sec.Probe(h, ep)
	}
	for _, c := range probe {
		r.sec.Probe(h, c)
	}
}

// describe says how the path to peer (a handle) at endpoint goes, for the
// peers panel: "relayed via HOST", "direct (LAN)" or "direct"; "" for a
// peer the relay never carried.
func (r *relayPath) describe(peer, endpoint netip.AddrPort) string {
	if !isRelayHandle(peer) {
		return ""
	}
	if !endpoint.IsValid() || endpoint == peer {
		return "relayed via " + r.spec.host
	}
	if ip := endpoint.Addr(); ip.IsLoopback() || slices.ContainsFunc(r.nets, func(n netip.Prefix) bool { return n.Contains(ip) }) {
		return "direct (LAN)"
	}
	return "direct"
}

// localCandidates are the addresses peers on our networks may reach the
// chat at: each interface address (not loopback or link-local) with the
// socket's port, or the socket's address if it is bound to one.
func localCandidates(local netip.AddrPort) []netip.AddrPort {
	if !local.Addr().IsUnspecified() {
		return []netip.AddrPort{local}
	}
	var out []netip.AddrPort
	for _, n := range localNets() {
		ip := n.Addr()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || local.Addr().Is4() && !ip.Is4() {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, local.Port()))
	}
	return out[:min(len(out), wire.MaxRelayAddrs-1)]
}

// relayedDatagram is a datagram for a relayed person, by key.
type relayedDatagram struct {
	to       keys.PublicKey
	datagram []byte
}

// relayMux is the socket under the secure layer, with the relay as a way
// to relayed people: what is written to a relay handle is queued for the
// relay (relayPath.forward), and what the relay delivers is read next,
// from the sender's handle. Deliveries are injected by the reader itself
// (Intercept runs inside the secure layer's read), so a read never waits
// for one.
type relayMux struct {
	udp.Conn
	path *relayPath
	out  chan relayedDatagram

	mu      sync.Mutex
	pending []udp.Message
	// heard is when a datagram last came from each direct path in use
	// (watch), authentic or not: see deliver.
	heard map[netip.AddrPort]time.Time
}

// watch notes when datagrams come from addr, a direct path in use, from
// now on; the other addresses watched before are forgotten when there are
// too many. The path is in use because an authentic datagram just came on
// it (the secure layer moved the peer there), so it counts as heard now.
func (m *relayMux) watch(addr netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.heard[addr]; ok {
		return
	}
	if m.heard == nil || len(m.heard) >= relayQueue {
		m.heard = make(map[netip.AddrPort]time.Time)
	}
	m.heard[addr] = time.Now()
}

// heardWithin says whether a datagram came from addr within d.
func (m *relayMux) heardWithin(addr netip.AddrPort, d time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.heard[addr]
	return ok && time.Since(at) < d
}

func (m *relayMux) inject(datagram []byte, from netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) < relayQueue {
		m.pending = append(m.pending, udp.Message{Buf: slices.Clone(datagram), N: len(datagram), Addr: from})
	}
}

func (m *relayMux) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	m.mu.Lock()
	if len(m.pending) > 0 {
		d := m.pending[0]
		m.pending = m.pending[1:]
		m.mu.Unlock()
		return copy(b, d.Buf[:d.N]), d.Addr, nil
	}
	m.mu.Unlock()
	n, from, err := m.Conn.ReadFrom(b)
	if err == nil {
		m.mu.Lock()
		if _, ok := m.heard[udp.Unmap(from)]; ok {
			m.heard[udp.Unmap(from)] = time.Now()
		}
		m.mu.Unlock()
	}
	return n, from, err
}

func (m *relayMux) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	if !isRelayHandle(addr) {
		return m.Conn.WriteTo(b, addr)
	}
	key, decided, ok := m.path.knownKey(addr)
	if !decided || !ok {
		return 0, fmt.Errorf("relay: write to %s: no one known by that handle", addr)
	}
	if len(b) > wire.MaxRelayedDatagram {
		return 0, fmt.Errorf("relay: write to %s: %d bytes, over the %d the relay forwards", addr, len(b), wire.MaxRelayedDatagram)
	}
	select {
	case m.out <- relayedDatagram{to: key, datagram: slices.Clone(b)}:
	default: // a datagram: lost, as on a full socket buffer
	}
	return len(b), nil
}

// openRelayPath is the relay path --relay (or the data dir) names, and the
// conn the secure layer is to run on: sock itself without a relay, else
// the mux that reaches relayed people through it. udpchat send (sendOnly)
// uses only a relay it is given: the relay knows one address per key, so
// its registration takes the chat's (on the same data dir) away from it
// until the chat's next refresh.
func openRelayPath(ctx context.Context, given string, sendOnly bool, sock udp.Conn, dataDir string, log *slog.Logger) (*relayPath, udp.Conn, error) {
	if sendOnly && given == "" {
		return nil, sock, nil
	}
	spec, ok, err := chooseRelay(given, dataDir)
	if err != nil || !ok {
		return nil, sock, err
	}
	rp, err := newRelayPath(ctx, spec, sock, dataDir, log)
	if err != nil {
		return nil, nil, err
	}
	if !sendOnly {
		rp.mail = make(chan relay.Mail, mailQueue)
	}
	return rp, rp.mux, nil
}
