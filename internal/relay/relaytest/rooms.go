// Package relaytest simulates many room members at relays, for the tests
// and benchmarks of the relays' room fan-out (docs/PROTOCOL.md RL9): each
// member is a relay.Client with a Noise session of its own, on a loopback
// socket of its own, as a member's chat would be.
package relaytest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
)

// Serve runs a relay of cfg (Static made if unset) on a loopback socket
// until the test ends.
func Serve(t testing.TB, cfg relay.Config) *relay.Server {
	t.Helper()
	if cfg.Static.IsZero() {
		k, err := keys.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Static = k
	}
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := relay.NewServer(sock, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// Relay is where a member registers: the relay's address and the key it
// pins.
type Relay struct {
	Addr netip.AddrPort
	Key  keys.PublicKey
}

// Member is one simulated member of a room.
type Member struct {
	*relay.Client
	Index int
	Key   keys.PublicKey
}

// LoopbackIP is member i's address: the relay answers 50 handshakes a
// second from one address (RL1), so the members spread over 127.0.0.0/8,
// fifty an address, as members behind many NATs would.
func LoopbackIP(i int) netip.Addr {
	n := 1 + i/50
	return netip.AddrFrom4([4]byte{127, 0, byte(n >> 8), byte(n)})
}

// Sink takes the room datagrams the members get: a Tally or a Counter.
type Sink interface {
	add(member int, datagram []byte)
}

// Join starts member i at r, registers it and subscribes it to room, and
// hands the room datagrams it gets, of any room, to sink. It stops when the test
// ends. The subscription is a datagram: wait for the relay to have it
// (relay.Server.RoomSubscribers).
func Join(t testing.TB, r Relay, room relay.RoomID, i int, sink Sink) *Member {
	t.Helper()
	m := Connect(t, r, i, func(_ relay.RoomID, d []byte) { sink.add(i, d) })
	if err := m.SubscribeRoom(room, true); err != nil {
		t.Fatal(err)
	}
	return m
}

// Connect starts member i at r and registers it; deliver hears each room
// datagram it gets (it must not keep it). It stops when the test ends.
func Connect(t testing.TB, r Relay, i int, deliver func(room relay.RoomID, datagram []byte)) *Member {
	t.Helper()
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sock, err := udp.Listen(netip.AddrPortFrom(LoopbackIP(i), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secure.NewConn(sock, secure.Config{
		Static: key,
		// The relay answers only a client's requests (its registration,
		// every Refresh), never a subscribe or a post: at the default 3 s,
		// every member that posts or subscribes would take the silence for
		// a lost session and handshake again, all 300 of them at once,
		// retrying each second while a loaded relay answers slower than
		// that, until they fell back to sessions the relay never finished
		// and their posts were dropped. A member hears the relay at least
		// every refresh, so only a longer silence is one.
		RekeyAfterSilence: 2 * relay.DefaultRefresh,
		KnownKey:          func(p netip.AddrPort) (keys.PublicKey, bool) { return r.Key, p == r.Addr },
		Verify: func(p netip.AddrPort, k keys.PublicKey) error {
			if p != r.Addr || k != r.Key {
				return errors.New("not the relay")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &Member{Index: i, Key: key.Public()}
	m.Client, err = relay.NewClient(relay.ClientConfig{
		Conn:          sec,
		Relay:         r.Addr,
		OnRoomDeliver: func(_ keys.PublicKey, room relay.RoomID, d []byte) { deliver(room, d) },
		Retry:         100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); sec.Close(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if _, err := m.Register(rctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// Datagram is the room datagram of message id, size bytes long (at least
// 8): what a member posts, as a stand-in for one the room's keys sealed.
func Datagram(id uint64, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(b, id)
	return b
}

// Counter counts the room datagrams the members get, all together: for
// benchmarks, where a Tally's bookkeeping would weigh.
type Counter struct {
	n    atomic.Int64
	more chan struct{}
}

// NewCounter is a counter at 0.
func NewCounter() *Counter { return &Counter{more: make(chan struct{}, 1)} }

func (c *Counter) add(int, []byte) {
	c.n.Add(1)
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// Count counts one datagram that arrived some other way (a baseline's).
func (c *Counter) Count() { c.add(0, nil) }

// N is how many datagrams arrived.
func (c *Counter) N() int64 { return c.n.Load() }

// Wait waits for the next arrival, or until timeout; false if none came.
func (c *Counter) Wait(timeout time.Duration) bool {
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-c.more:
		return true
	case <-tm.C:
		return false
	}
}

// Tally counts the room datagrams each member got, by message id.
type Tally struct {
	mu     sync.Mutex
	got    map[[2]uint64]int // member, message: times
	dups   int
	nfirst atomic.Int64 // distinct (member, message) pairs
	more   chan struct{}
}

// NewTally is an empty tally.
func NewTally() *Tally {
	return &Tally{got: make(map[[2]uint64]int), more: make(chan struct{}, 1)}
}

func (t *Tally) add(member int, d []byte) {
	if len(d) < 8 {
		return
	}
	k := [2]uint64{uint64(member), binary.BigEndian.Uint64(d)}
	t.mu.Lock()
	t.got[k]++
	first := t.got[k] == 1
	if !first {
		t.dups++
	}
	t.mu.Unlock()
	if first {
		t.nfirst.Add(1)
	}
	select {
	case t.more <- struct{}{}:
	default:
	}
}

// Distinct is how many (member, message) pairs arrived at least once.
func (t *Tally) Distinct() int { return int(t.nfirst.Load()) }

// Times is how often member got message id.
func (t *Tally) Times(member int, id uint64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.got[[2]uint64{uint64(member), id}]
}

// Duplicates is how many datagrams arrived at a member that had them.
func (t *Tally) Duplicates() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dups
}

// WaitDistinct waits until want distinct pairs have arrived, or an error
// after timeout, saying how many had.
func (t *Tally) WaitDistinct(want int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for t.Distinct() < want {
		select {
		case <-t.more:
		case <-deadline.C:
			return fmt.Errorf("%d of %d deliveries after %v", t.Distinct(), want, timeout)
		}
	}
	return nil
}

// SubscribeAll subscribes members to room, and again until each relay in
// want has its number of subscribers of it: a subscribe is a datagram, and
// a busy relay's socket may drop it.
func SubscribeAll(t testing.TB, members []*Member, room relay.RoomID, want map[*relay.Server]int) {
	t.Helper()
	for range 20 {
		for _, m := range members {
			if err := m.SubscribeRoom(room, true); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(time.Second)
		for !haveSubscribers(room, want) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if haveSubscribers(room, want) {
			return
		}
	}
	t.Fatal("20 rounds of subscribes, and a relay still misses some")
}

func haveSubscribers(room relay.RoomID, want map[*relay.Server]int) bool {
	for s, n := range want {
		if s.RoomSubscribers(room) != n {
			return false
		}
	}
	return true
}
