package rooms

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// sim is a room's members on a simulated network: seeded, with loss,
// duplication, reordering (a datagram waits a random number of rounds) and
// partitions, and a clock that moves one second a round.
type sim struct {
	t      testing.TB
	rng    *rand.Rand
	now    time.Time
	ids    []keys.PublicKey
	signs  []ed25519.PrivateKey
	stores []*MemStorage
	nodes  []*Node
	room   RoomID

	askToJoin bool // each member's Config.AskToJoin, from its next start

	loss, dup float64
	// blocked drops everything from one member to another (a partition,
	// or a pair that cannot reach each other).
	blocked func(from, to int) bool
	// observe sees every datagram the network carries, before loss.
	observe func(from, to int, b []byte)
	// tamper may change a datagram on the wire.
	tamper func(from, to int, b []byte) []byte
	// shown counts the messages each member's events showed, by ID.
	shown []map[MessageID]int
	// seen keeps each member's invitations and joins, in order.
	seen [][]Event

	inflight []packet
}

type packet struct {
	from, to int
	b        []byte
}

func newSim(t testing.TB, n int, seed uint64) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Unix(1_800_000_000, 0)}
	for range n {
		var id keys.PublicKey
		for j := range id {
			id[j] = byte(s.rng.Uint32())
		}
		seedBytes := make([]byte, ed25519.SeedSize)
		for j := range seedBytes {
			seedBytes[j] = byte(s.rng.Uint32())
		}
		s.ids = append(s.ids, id)
		s.signs = append(s.signs, ed25519.NewKeyFromSeed(seedBytes))
		s.stores = append(s.stores, NewMemStorage())
		s.nodes = append(s.nodes, nil)
		s.shown = append(s.shown, make(map[MessageID]int))
		s.seen = append(s.seen, nil)
	}
	for i := range n {
		s.start(i)
	}
	s.bind()
	return s
}

// bind gives every member everyone's binding: each has a pairwise session
// with each other, and bindings go first on it.
func (s *sim) bind() {
	for i := range s.nodes {
		for j := range s.nodes {
			if i != j {
				if err := s.nodes[j].Receive(s.ids[i], s.nodes[i].Binding()); err != nil {
					s.t.Fatal(err)
				}
			}
		}
	}
}

// start (re)starts member i from its storage, as after a crash.
func (s *sim) start(i int) {
	var seed [32]byte
	for j := range seed {
		seed[j] = byte(s.rng.Uint32())
	}
	node, err := New(Config{Self: s.ids[i], Sign: s.signs[i], Storage: s.stores[i],
		Now: func() time.Time { return s.now }, Rand: rand.NewChaCha8(seed), AskToJoin: s.askToJoin})
	if err != nil {
		s.t.Fatalf("starting member %d: %v", i, err)
	}
	s.nodes[i] = node
}

func (s *sim) index(k keys.PublicKey) int {
	i := slices.Index(s.ids, k)
	if i < 0 {
		s.t.Fatalf("datagram for an unknown key")
	}
	return i
}

// found creates the room at member 0 and adds members 1..n-1.
func (s *sim) found(policy wire.RoomHistoryPolicy, keepN uint64, members int) {
	id, err := s.nodes[0].Create(policy, keepN)
	if err != nil {
		s.t.Fatal(err)
	}
	s.room = id
	for i := 1; i < members; i++ {
		if err := s.nodes[0].Add(id, s.ids[i]); err != nil {
			s.t.Fatal(err)
		}
	}
}

// step carries what every member sent, then moves the clock on a second
// and ticks every member.
func (s *sim) step() {
	for i, node := range s.nodes {
		for _, o := range node.Outbox() {
			to := s.index(o.To)
			if s.observe != nil {
				s.observe(i, to, o.Datagram)
			}
			if s.blocked != nil && s.blocked(i, to) || s.rng.Float64() < s.loss {
				continue
			}
			b := o.Datagram
			if s.tamper != nil {
				b = s.tamper(i, to, b)
			}
			s.inflight = append(s.inflight, packet{i, to, b})
			if s.rng.Float64() < s.dup {
				s.inflight = append(s.inflight, packet{i, to, b})
			}
		}
	}
	s.rng.Shuffle(len(s.inflight), func(a, b int) { s.inflight[a], s.inflight[b] = s.inflight[b], s.inflight[a] })
	var later []packet
	for _, p := range s.inflight {
		if s.rng.Float64() < 0.2 {
			later = append(later, p) // delayed: reordered across rounds
			continue
		}
		s.nodes[p.to].Receive(s.ids[p.from], p.b) //nolint:errcheck // drops are counted
	}
	s.inflight = later
	s.now = s.now.Add(time.Second)
	for i, node := range s.nodes {
		node.Tick()
		for _, e := range node.Events() {
			switch e.Kind {
			case EventMessage:
				s.shown[i][e.Message.ID]++
			case EventInvited, EventJoined:
				s.seen[i] = append(s.seen[i], e)
			}
		}
	}
}

// send has member i say something, and returns its ID.
func (s *sim) send(i int, text string) MessageID {
	id, err := s.nodes[i].Send(s.room, []byte(text))
	if err != nil {
		s.t.Fatalf("member %d sending: %v", i, err)
	}
	return id
}

// runUntil steps until done holds, at most max rounds, and returns the rounds taken.
func (s *sim) runUntil(max int, what string, done func() bool) int {
	s.t.Helper()
	for r := range max {
		if done() {
			return r
		}
		s.step()
	}
	if !done() {
		s.t.Fatalf("%s: not after %d rounds (%s)", what, max, s.describe())
	}
	return max
}

func (s *sim) describe() string {
	out := ""
	for i, n := range s.nodes {
		v, _ := n.Version(s.room)
		out += fmt.Sprintf("[%d: v%d %d msgs %+v] ", i, v, len(n.Messages(s.room)), n.Stats().Drops)
	}
	return out
}

// agreed reports whether the members listed all hold want messages, in the
// same order.
func (s *sim) agreed(members []int, want int) bool {
	first := ids(s.nodes[members[0]].Messages(s.room))
	if len(first) != want {
		return false
	}
	for _, i := range members[1:] {
		if !slices.Equal(first, ids(s.nodes[i].Messages(s.room))) {
			return false
		}
	}
	return true
}

func (s *sim) joined(members []int, version uint64) bool {
	for _, i := range members {
		if v, _ := s.nodes[i].Version(s.room); v != version {
			return false
		}
	}
	return true
}

func ids(ms []Message) []MessageID {
	out := make([]MessageID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func span(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// checkOnce fails unless every message was shown at most once by each member.
func (s *sim) checkOnce() {
	s.t.Helper()
	for i, shown := range s.shown {
		for id, n := range shown {
			if n > 1 {
				s.t.Errorf("member %d showed %v %d times", i, id, n)
			}
		}
	}
}

// delivered reports whether the sender of every message counts all of the
// message's recipients (the other members) as having stored it, and never
// more than there are.
func (s *sim) delivered(members []int) bool {
	for _, m := range s.nodes[members[0]].Messages(s.room) {
		k, n := s.nodes[s.index(m.ID.Sender)].Delivery(s.room, m.ID)
		if k > n {
			s.t.Fatalf("%v: delivered %d/%d", m.ID, k, n)
		}
		if k != n || n != len(members)-1 {
			return false
		}
	}
	return true
}
