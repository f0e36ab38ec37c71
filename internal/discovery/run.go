package discovery

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// maxPending bounds the events waiting for the caller to read them; past
// it, events are dropped (and counted) while Nearby stays right.
const maxPending = 4 * MaxNearby

// network is what run sends and receives beacons through: the sockets of
// socket.go, or a fake in tests.
type network interface {
	// serve starts calling deliver with every datagram that arrives, from
	// goroutines of its own, until close. deliver may reuse nothing of b.
	serve(deliver func(b []byte, from netip.AddrPort))
	// broadcast sends b to every link: IPv4 broadcast and IPv6 multicast
	// on every interface that has them, from the address answers come to.
	broadcast(b []byte) error
	// unicast sends b to one address, from that same address.
	unicast(b []byte, to netip.AddrPort) error
	// refresh reads the interfaces again and reports whether there is a
	// new link to announce on.
	refresh() bool
	// close stops serve's goroutines and waits for them.
	close() error
}

// state is everything run owns: the nearby table and the schedule.
type state struct {
	d       *Discoverer
	name    string
	ttl     time.Duration // how long a peer's address is kept unheard
	table   map[keys.PublicKey]*entry
	pending []Event // events not yet read
	buf     []byte

	announceT, forcedT, expireT *time.Timer
	expireArmed                 bool
	lastForced                  time.Time
	forcePending                bool
}

// entry is one nearby peer: as last reported, and each address it was
// heard from, with when.
type entry struct {
	peer  Peer
	addrs map[netip.Addr]time.Time
}

func (d *Discoverer) run(ctx context.Context) {
	defer close(d.done)
	s := &state{
		d:     d,
		name:  d.cfg.Name,
		ttl:   expiry(d.cfg.Interval),
		table: make(map[keys.PublicKey]*entry),
		buf:   make([]byte, 0, wire.MaxBeaconLen),
	}
	s.announceT = time.NewTimer(s.nextInterval())
	s.forcedT = time.NewTimer(time.Hour)
	s.forcedT.Stop()
	s.expireT = time.NewTimer(time.Hour)
	s.expireT.Stop()
	rescan := time.NewTicker(RescanInterval)
	defer func() {
		s.announceT.Stop()
		s.forcedT.Stop()
		s.expireT.Stop()
		rescan.Stop()
		s.send(wire.BeaconLeave, netip.AddrPort{})
		if err := d.net.close(); err != nil {
			d.cfg.Logger.Debug("discovery: closing the sockets", "err", err)
		}
		close(d.events)
	}()

	s.force() // a newcomer announces at once
	for {
		var out chan<- Event
		var next Event
		if len(s.pending) > 0 {
			out, next = d.events, s.pending[0]
		}
		select {
		case <-ctx.Done():
			return
		case <-d.stop:
			return
		case out <- next:
			s.pending = s.pending[1:]
		case r := <-d.inbox:
			s.handle(r)
		case fn := <-d.calls:
			fn(s)
		case <-s.announceT.C:
			s.announce()
		case <-s.forcedT.C:
			s.forcePending = false
			s.force()
		case <-s.expireT.C:
			s.expire()
		case <-rescan.C:
			if d.net.refresh() {
				s.force()
			}
		}
	}
}

// expiry is how long a peer announcing every interval may stay unheard:
// ExpireIntervals of its longest intervals.
func expiry(interval time.Duration) time.Duration {
	return time.Duration(float64(ExpireIntervals*interval) * (1 + jitter))
}

// nextInterval is Interval ± jitter.
func (s *state) nextInterval() time.Duration {
	f := 1 - jitter + 2*jitter*rand.Float64()
	return time.Duration(float64(s.d.cfg.Interval) * f)
}

// send sends a beacon of type t: an answer to to, anything else to every
// link.
func (s *state) send(t wire.BeaconType, to netip.AddrPort) {
	d := s.d
	b, err := wire.AppendBeacon(s.buf[:0], wire.Beacon{Type: t, Key: d.cfg.Key, Instance: d.instance, ChatPort: d.cfg.ChatPort, Name: s.name})
	if err != nil {
		panic(err) // validated by Start and SetName
	}
	if t == wire.BeaconAnswer {
		err = d.net.unicast(b, to)
		d.answered.Add(1)
	} else {
		err = d.net.broadcast(b)
		d.announced.Add(1)
	}
	if err != nil {
		d.cfg.Logger.Debug("discovery: sending a beacon", "type", t, "err", err)
	}
}

// announce announces now and schedules the next periodic announcement.
func (s *state) announce() {
	s.send(wire.BeaconAnnounce, netip.AddrPort{})
	s.announceT.Reset(s.nextInterval())
}

// force announces out of turn: now if the last forced announcement is
// MinForcedGap old, else once when it is.
func (s *state) force() {
	now := time.Now()
	if s.forcePending {
		return
	}
	if wait := MinForcedGap - now.Sub(s.lastForced); !s.lastForced.IsZero() && wait > 0 {
		s.forcePending = true
		s.forcedT.Reset(wait)
		return
	}
	s.lastForced = now
	s.announce()
}

// emit queues an event for the caller.
func (s *state) emit(k EventKind, p Peer) {
	if len(s.pending) >= maxPending {
		s.d.eventsLost.Add(1)
		return
	}
	s.pending = append(s.pending, Event{k, p})
}

// handle is one beacon from another process.
func (s *state) handle(r received) {
	d, b, now := s.d, r.b, time.Now()
	key := keys.PublicKey(b.Key)
	if key.Equal(d.cfg.Key) && b.Instance == d.instance {
		return // our own, looped back
	}
	if !d.limiter.Allow(r.from.Addr(), now) {
		d.drops[DropRateLimited].Add(1)
		return
	}
	d.handled.Add(1)
	e := s.table[key]
	if b.Type == wire.BeaconLeave {
		if e != nil && e.peer.Instance == b.Instance {
			delete(s.table, key)
			s.emit(Gone, e.peer)
		}
		return
	}
	fresh := e == nil || e.peer.Instance != b.Instance
	if e == nil {
		if len(s.table) >= MaxNearby {
			d.drops[DropTableFull].Add(1)
			return
		}
		e = &entry{addrs: make(map[netip.Addr]time.Time)}
		s.table[key] = e
	}
	old := e.peer
	e.hear(r.from.Addr(), now)
	e.peer = Peer{Key: key, Instance: b.Instance, Name: b.Name, Endpoint: netip.AddrPortFrom(e.best(), b.ChatPort), LastSeen: now}
	switch {
	case old.Instance == 0:
		s.emit(Nearby, e.peer)
	case old.Instance != e.peer.Instance || old.Name != e.peer.Name || old.Endpoint != e.peer.Endpoint:
		s.emit(Changed, e.peer)
	}
	if !s.expireArmed {
		s.expireArmed = true
		s.expireT.Reset(s.ttl)
	}
	// Whoever did not know the sender answers its announcement, so that
	// it learns of everyone from one broadcast. Answers are never answered.
	if fresh && b.Type == wire.BeaconAnnounce {
		s.send(wire.BeaconAnswer, r.from)
	}
}

// expire forgets the addresses not heard for ttl, and the peers left with
// none, and arms the timer for the next to go.
func (s *state) expire() {
	now := time.Now()
	var next time.Time
	for key, e := range s.table {
		lost := false
		for a, t := range e.addrs {
			if now.Sub(t) >= s.ttl {
				delete(e.addrs, a)
				lost = true
			} else if next.IsZero() || t.Add(s.ttl).Before(next) {
				next = t.Add(s.ttl)
			}
		}
		switch {
		case len(e.addrs) == 0:
			delete(s.table, key)
			s.emit(Gone, e.peer)
		case lost:
			if ep := netip.AddrPortFrom(e.best(), e.peer.Endpoint.Port()); ep != e.peer.Endpoint {
				e.peer.Endpoint = ep
				s.emit(Changed, e.peer)
			}
		}
	}
	s.expireArmed = !next.IsZero()
	if s.expireArmed {
		s.expireT.Reset(next.Sub(now))
	}
}

// hear notes that the peer was heard from a, forgetting the longest
// unheard address if that makes too many.
func (e *entry) hear(a netip.Addr, now time.Time) {
	e.addrs[a] = now
	if len(e.addrs) <= maxAddrs {
		return
	}
	var oldest netip.Addr
	for x, t := range e.addrs {
		if !oldest.IsValid() || t.Before(e.addrs[oldest]) {
			oldest = x
		}
	}
	delete(e.addrs, oldest)
}

// best is the address to chat with: IPv4 before IPv6, then the lowest, so
// that the choice is stable while the peer is heard on several.
func (e *entry) best() netip.Addr {
	var best netip.Addr
	for a := range e.addrs {
		if !best.IsValid() || a.Is4() && !best.Is4() || a.Is4() == best.Is4() && a.Less(best) {
			best = a
		}
	}
	return best
}
