package securetest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// NewConn is newConn(inner, cfg), or the test fails. newConn is
// secure.NewConn: the caller passes it in, since this package does not
// import secure.
func NewConn[C, Config any](t testing.TB, newConn func(udp.Conn, Config) (C, error), inner udp.Conn, cfg Config) C {
	t.Helper()
	c, err := newConn(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// MustKey generates an identity key or fails the test.
func MustKey(t testing.TB) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Listen attaches a conn at addr on n or fails the test.
func Listen(t testing.TB, n *udptest.MemNetwork, addr netip.AddrPort) udp.Conn {
	t.Helper()
	c, err := n.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ListenLoopback opens a real UDP socket on ip, a loopback address, on a
// port the system picks. Only 127.0.0.1 is loopback everywhere; Linux routes
// all of 127.0.0.0/8 there, and tests that want many source addresses use
// that: on a system that will not bind ip, the test is skipped (or fails
// with UDPCHAT_REQUIRE_ALL=1, as in CI).
func ListenLoopback(t testing.TB, ip netip.Addr) udp.Conn {
	t.Helper()
	c, err := udp.Listen(netip.AddrPortFrom(ip, 0).String())
	switch {
	case errors.Is(err, udp.ErrCannotBind) && ip != netip.AddrFrom4([4]byte{127, 0, 0, 1}):
		testenv.Unavailable(t, fmt.Sprintf("this system has no loopback address %v: %v", ip, err))
	case err != nil:
		t.Fatal(err)
	}
	return c
}

// Packet is what a Reader got from ReadFrom.
type Packet struct {
	From netip.AddrPort
	Data []byte
}

// Reader calls ReadFrom in a goroutine until the conn closes, handing each
// packet to Packets (so a secure conn also answers handshakes meanwhile).
type Reader struct {
	Packets chan Packet
	done    chan struct{}
	err     error
}

// StartReader starts reading c; CloseAll stops it.
func StartReader(c udp.Conn) *Reader {
	r := &Reader{Packets: make(chan Packet, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, wire.MaxPathDatagram+1)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					r.err = err
				}
				return
			}
			r.Packets <- Packet{From: from, Data: bytes.Clone(buf[:n])}
		}
	}()
	return r
}

// Next waits for a packet, failing after a minute (virtual, under synctest).
func (r *Reader) Next(t testing.TB) Packet {
	t.Helper()
	select {
	case p := <-r.Packets:
		return p
	case <-time.After(time.Minute):
		t.Fatal("no packet within a minute")
		return Packet{}
	}
}

// None checks that no packet is waiting.
func (r *Reader) None(t testing.TB) {
	t.Helper()
	select {
	case p := <-r.Packets:
		t.Fatalf("unexpected packet from %v: %q", p.From, p.Data)
	default:
	}
}

// CloseAll closes the conns and waits for their readers.
func CloseAll(t testing.TB, conns []udp.Conn, readers ...*Reader) {
	t.Helper()
	for _, c := range conns {
		c.Close()
	}
	for _, r := range readers {
		<-r.done
		if r.err != nil {
			t.Errorf("reader: %v", r.err)
		}
	}
}

// Recorder records every datagram written through an impaired conn (as its
// Impairment.Observe).
type Recorder struct {
	mu    sync.Mutex
	grams []Datagram
}

// Datagram is one datagram a Recorder saw.
type Datagram struct {
	To netip.AddrPort
	B  []byte
}

func (r *Recorder) Observe(b []byte, to netip.AddrPort) {
	r.mu.Lock()
	r.grams = append(r.grams, Datagram{To: to, B: bytes.Clone(b)})
	r.mu.Unlock()
}

// All returns what was recorded so far.
func (r *Recorder) All() []Datagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Datagram(nil), r.grams...)
}

// Types counts the recorded datagrams by type byte.
func (r *Recorder) Types() map[byte]int {
	m := map[byte]int{}
	for _, d := range r.All() {
		if len(d.B) > 1 {
			m[d.B[1]]++
		}
	}
	return m
}

// TrustStore is a TOFU Verify for tests: the first key seen at an address is
// remembered, a different one later refused. Mu guards the fields below it.
type TrustStore struct {
	Mu      sync.Mutex
	Keys    map[netip.AddrPort]keys.PublicKey
	Refused int
	Seen    []keys.PublicKey
}

func NewTrustStore() *TrustStore {
	return &TrustStore{Keys: map[netip.AddrPort]keys.PublicKey{}}
}

// Verify is the store as a secure.Config's Verify.
func (s *TrustStore) Verify(peer netip.AddrPort, key keys.PublicKey) error {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	s.Seen = append(s.Seen, key)
	if k, ok := s.Keys[peer]; ok && !k.Equal(key) {
		s.Refused++
		return errors.New("key changed: " + k.Fingerprint() + " → " + key.Fingerprint())
	}
	s.Keys[peer] = key
	return nil
}

// Known is the store as a secure.Config's KnownKey.
func (s *TrustStore) Known(peer netip.AddrPort) (keys.PublicKey, bool) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	k, ok := s.Keys[peer]
	return k, ok
}

// DiffDrops is what was dropped between two snapshots of a layer's drop
// counts (its Stats.Drops), by the names the layer's String gives each
// reason: DiffDrops(before.Drops[:], after.Drops[:], secure.DropReason.String).
// A nil before counts from zero.
func DiffDrops[R ~int](before, after []uint64, name func(R) string) map[string]uint64 {
	m := map[string]uint64{}
	for i := range after {
		d := after[i]
		if before != nil {
			d -= before[i]
		}
		if d > 0 {
			m[name(R(i))] = d
		}
	}
	return m
}
