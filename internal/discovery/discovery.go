// Package discovery finds udpchat users on the local network, with no setup:
// beacons in the style of syncthing's local discovery, IPv4 broadcast and
// IPv6 link-local multicast on DefaultPort, answered by unicast as IP
// Messenger answers a newcomer, so that a join costs N datagrams rather than
// N broadcasts. What it finds are hints only (nearby people, their names and
// chat endpoints): nothing is trusted until a Noise handshake proves the key.
//
// The rules (docs/PROTOCOL.md, section D):
//   - a newcomer announces at once; whoever hears an announcement from a key
//     (or an instance of it) it did not know answers it by unicast;
//   - then everyone announces every Interval, ±10%, and forgets a peer not
//     heard for ExpireIntervals intervals;
//   - announcements out of turn (a new name, a new network) are at most one
//     per MinForcedGap;
//   - a clean exit announces that it leaves, so others forget it at once;
//   - receiving is bounded: a token bucket per source address, a table of at
//     most MaxNearby peers, a bounded queue to the one goroutine that owns
//     the table.
package discovery

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

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure/ratelimit"
	"github.com/udpchat/udpchat/internal/wire"
)

// Protocol constants (docs/PROTOCOL.md, section D).
const (
	// DefaultPort is the UDP port beacons are sent to: udpchat's own, next
	// to the chat's default 7475.
	DefaultPort = 7476
	// DefaultInterval is how often a process announces itself.
	DefaultInterval = 30 * time.Second
	// ExpireIntervals is how many intervals a peer may stay silent before
	// it is gone: two lost announcements are forgiven, not three.
	ExpireIntervals = 3
	// MinForcedGap is the least time between two announcements out of
	// turn, so that a flapping interface or name cannot make a storm.
	MinForcedGap = 5 * time.Second
	// MaxNearby bounds the nearby table; beacons from further keys are
	// dropped (DropTableFull) until some expire.
	MaxNearby = 256
	// RescanInterval is how often the interfaces are read again, to
	// announce on a network that has come up.
	RescanInterval = 5 * time.Second
)

// MulticastGroup is the IPv6 link-local (ff12::/16, transient, hop limit 1)
// group beacons are sent to.
var MulticastGroup = netip.MustParseAddr("ff12::7476")

// Receive limits: each source address may send sourceBurst beacons at once
// and sourceRate a second after that, far above what a few udpchat
// processes on one host send (two announcements an interval, one forced
// announcement per MinForcedGap, answers to newcomers); maxSources bounds
// the table of sources. inboxLen is the queue from the socket readers to
// the goroutine that owns the table; what does not fit is dropped.
const (
	sourceRate  = 10
	sourceBurst = 40
	maxSources  = 1024
	inboxLen    = 64
	// jitter is the share of Interval an announcement may come early or
	// late, so that processes started together do not stay in step.
	jitter = 0.1
	// maxAddrs bounds the source addresses remembered per peer (an
	// interface of each family, on each network both are on).
	maxAddrs = 8
)

// Config says who announces and where.
type Config struct {
	Key      keys.PublicKey // this user's public key
	Name     string         // display name, 1 to wire.MaxNameLen bytes of UTF-8
	ChatPort uint16         // the port the chat listens on, at every address
	// Port is the beacon port; 0 means DefaultPort. Tests use others.
	Port uint16
	// Interval is how often to announce; 0 means DefaultInterval. Tests
	// use a short one.
	Interval time.Duration
	// Logger gets the rare events worth a line (a socket that cannot be
	// opened, an interface that cannot be joined); nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Peer is a udpchat process heard on the LAN.
type Peer struct {
	Key      keys.PublicKey // as announced: unproven until a handshake
	Instance uint64         // the process; a new one means it restarted
	Name     string
	// Endpoint is where it chats: the address a beacon came from, with the
	// announced chat port. Of several addresses IPv4 is preferred, then
	// the lowest, so it does not flap between them.
	Endpoint netip.AddrPort
	LastSeen time.Time
}

// EventKind says what happened to a nearby peer.
type EventKind uint8

const (
	Nearby  EventKind = iota + 1 // first heard (or heard again after it was gone)
	Changed                      // a new name, endpoint or instance
	Gone                         // left, or silent for ExpireIntervals intervals
)

func (k EventKind) String() string {
	switch k {
	case Nearby:
		return "nearby"
	case Changed:
		return "changed"
	case Gone:
		return "gone"
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is a change in the nearby set; Peer is the peer as it now is (as it
// last was, for Gone).
type Event struct {
	Kind EventKind
	Peer Peer
}

// DropReason is why a received datagram was thrown away. The first four are
// wire.Drop's, in its order.
type DropReason int

const (
	DropMalformed   DropReason = iota // not a beacon, or a broken one
	DropVersion                       // a beacon version we do not speak
	DropType                          // a beacon type we do not know
	DropTooBig                        // over wire.MaxDatagram
	DropRateLimited                   // its source is over its share
	DropTableFull                     // a new key with MaxNearby already known
	DropBusy                          // the owner's queue was full
	NumDropReasons
)

// Stats are counters since Start.
type Stats struct {
	Announced uint64 // announcements sent (a send to all links counts once)
	Answered  uint64 // unicast answers sent
	Received  uint64 // beacons from others that were handled
	Drops     [NumDropReasons]uint64
	// EventsLost counts events dropped because the caller had let
	// maxPending of them wait unread.
	EventsLost uint64
}

// Discoverer announces this process and keeps the set of nearby peers. Its
// goroutines are the socket readers and run, which owns the nearby table;
// Close stops them all.
type Discoverer struct {
	cfg      Config
	instance uint64
	net      network
	limiter  *ratelimit.Limiter

	inbox  chan received
	events chan Event
	calls  chan func(*state)
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	announced, answered, handled, eventsLost atomic.Uint64
	drops                                    [NumDropReasons]atomic.Uint64
}

// received is a beacon as a reader hands it to run.
type received struct {
	b    wire.Beacon
	from netip.AddrPort
}

// ErrConfig is wrapped by Start's error for a config it cannot announce.
var ErrConfig = errors.New("discovery: bad config")

// Start opens the beacon sockets (see socket.go), announces at once and
// keeps the nearby set until ctx ends or Close is called (either way it
// announces that it leaves). Events queue until read, up to a bound.
func Start(ctx context.Context, cfg Config) (*Discoverer, error) {
	cfg = cfg.withDefaults()
	if err := validate(cfg); err != nil {
		return nil, err
	}
	n, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	return start(ctx, cfg, n), nil
}

func validate(cfg Config) error {
	// The beacon's own rules, with a placeholder instance.
	_, err := wire.AppendBeacon(nil, wire.Beacon{Type: wire.BeaconAnnounce, Key: cfg.Key, Instance: 1, ChatPort: cfg.ChatPort, Name: cfg.Name})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return nil
}

// start runs the discoverer over n, which it owns from now on.
func start(ctx context.Context, cfg Config, n network) *Discoverer {
	d := &Discoverer{
		cfg:      cfg,
		instance: newInstance(),
		net:      n,
		limiter:  ratelimit.NewPerAddress(sourceRate, sourceBurst, maxSources),
		inbox:    make(chan received, inboxLen),
		events:   make(chan Event),
		calls:    make(chan func(*state)),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	n.serve(d.receive)
	go d.run(ctx)
	return d
}

// newInstance picks this process's instance ID: random, never 0. It is
// no secret, only unlikely to repeat.
func newInstance() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

// Instance is this process's instance ID, as its beacons carry it.
func (d *Discoverer) Instance() uint64 { return d.instance }

// Events delivers the changes to the nearby set, in order. It is closed
// when the discoverer stops.
func (d *Discoverer) Events() <-chan Event { return d.events }

// Nearby is a snapshot of the nearby set, or nil once stopped.
func (d *Discoverer) Nearby() []Peer {
	var peers []Peer
	d.call(func(s *state) {
		for _, e := range s.table {
			peers = append(peers, e.peer)
		}
	})
	return peers
}

// SetName changes the announced name and announces it (at most once per
// MinForcedGap). It fails, changing nothing, if the name cannot be sent.
func (d *Discoverer) SetName(name string) error {
	cfg := d.cfg
	cfg.Name = name
	if err := validate(cfg); err != nil {
		return err
	}
	d.call(func(s *state) {
		s.name = name
		s.force()
	})
	return nil
}

// Stats returns the counters.
func (d *Discoverer) Stats() Stats {
	st := Stats{Announced: d.announced.Load(), Answered: d.answered.Load(), Received: d.handled.Load(), EventsLost: d.eventsLost.Load()}
	for i := range st.Drops {
		st.Drops[i] = d.drops[i].Load()
	}
	return st
}

// Close announces that this process leaves, stops every goroutine and
// closes the sockets. It returns once they are all gone.
func (d *Discoverer) Close() error {
	d.once.Do(func() { close(d.stop) })
	<-d.done
	return nil
}

// call runs fn on run's goroutine, which owns the state, and waits for it;
// after the stop it does nothing.
func (d *Discoverer) call(fn func(*state)) {
	ran := make(chan struct{})
	select {
	case d.calls <- func(s *state) { fn(s); close(ran) }:
		<-ran
	case <-d.done:
	}
}

// receive is called by the socket readers with each datagram: it parses it
// and queues it for run, counting what it drops. b is reused after it
// returns.
func (d *Discoverer) receive(b []byte, from netip.AddrPort) {
	m, err := wire.ParseBeacon(b)
	if err != nil {
		d.drops[wire.DropOf(err)].Add(1)
		return
	}
	select {
	case d.inbox <- received{m, from}:
	default:
		d.drops[DropBusy].Add(1)
	}
}
