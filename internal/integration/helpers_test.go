package integration_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1001")
	addrB = netip.MustParseAddrPort("10.0.0.2:1002")
)

func mustKey(t testing.TB) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func listen(t testing.TB, n *udptest.MemNetwork, addr netip.AddrPort) udp.Conn {
	t.Helper()
	c, err := n.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listenLoopback opens a real UDP socket on ip, a loopback address, on a
// port the system picks. Only 127.0.0.1 is loopback everywhere; Linux routes
// all of 127.0.0.0/8 there, and tests that want many source addresses use
// that: on a system that will not bind ip, the test is skipped (or fails
// with UDPCHAT_REQUIRE_ALL=1, as in CI).
func listenLoopback(t testing.TB, ip netip.Addr) udp.Conn {
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

func newConn(t testing.TB, inner udp.Conn, cfg secure.Config) *secure.Conn {
	t.Helper()
	c, err := secure.NewConn(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// packet is what a reader got from ReadFrom.
type packet struct {
	from netip.AddrPort
	data []byte
}

// reader calls ReadFrom in a goroutine until the conn closes, handing each
// packet to a channel (so the Conn also answers handshakes meanwhile).
type reader struct {
	pkts chan packet
	done chan struct{}
	err  error
}

func startReader(c udp.Conn) *reader {
	r := &reader{pkts: make(chan packet, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, wire.MaxDatagram+1)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					r.err = err
				}
				return
			}
			r.pkts <- packet{from: from, data: bytes.Clone(buf[:n])}
		}
	}()
	return r
}

// closeAll closes the conns and waits for their readers.
func closeAll(t testing.TB, conns []udp.Conn, readers ...*reader) {
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

// recorder records every datagram written through an impaired conn.
type recorder struct {
	mu    sync.Mutex
	grams []datagram
}

type datagram struct {
	to netip.AddrPort
	b  []byte
}

func (r *recorder) observe(b []byte, to netip.AddrPort) {
	r.mu.Lock()
	r.grams = append(r.grams, datagram{to: to, b: bytes.Clone(b)})
	r.mu.Unlock()
}

func (r *recorder) all() []datagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]datagram(nil), r.grams...)
}

// trustStore is a TOFU Verify for tests: the first key seen at an address is
// remembered, a different one later refused.
type trustStore struct {
	mu      sync.Mutex
	keys    map[netip.AddrPort]keys.PublicKey
	refused int
	seen    []keys.PublicKey
}

func newTrustStore() *trustStore { return &trustStore{keys: map[netip.AddrPort]keys.PublicKey{}} }

func (s *trustStore) verify(peer netip.AddrPort, key keys.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, key)
	if k, ok := s.keys[peer]; ok && !k.Equal(key) {
		s.refused++
		return errors.New("key changed: " + k.Fingerprint() + " → " + key.Fingerprint())
	}
	s.keys[peer] = key
	return nil
}

// diffDrops is what was dropped between two secure stats, by reason.
func diffDrops(before, after secure.Stats) map[string]uint64 {
	m := map[string]uint64{}
	for i := range after.Drops {
		if d := after.Drops[i] - before.Drops[i]; d > 0 {
			m[secure.DropReason(i).String()] = d
		}
	}
	return m
}
