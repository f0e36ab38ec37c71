package relaypath

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// relayedDatagram is a datagram for a relayed person, by key.
type relayedDatagram struct {
	to       keys.PublicKey
	datagram []byte
}

// mux is the socket under the secure layer, with the relay as a way
// to relayed people: what is written to a relay handle is queued for the
// relay (Path.forward), and what the relay delivers is read next,
// from the sender's handle. Deliveries are injected by the reader itself
// (Intercept runs inside the secure layer's read), so a read never waits
// for one.
type mux struct {
	udp.Conn
	path *Path
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
func (m *mux) watch(addr netip.AddrPort) {
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
func (m *mux) heardWithin(addr netip.AddrPort, d time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.heard[addr]
	return ok && time.Since(at) < d
}

func (m *mux) inject(datagram []byte, from netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) < relayQueue {
		m.pending = append(m.pending, udp.Message{Buf: slices.Clone(datagram), N: len(datagram), Addr: from})
	}
}

// takePending moves the deliveries waiting to be read into ms, as many as
// fit, and returns how many.
func (m *mux) takePending(ms []udp.Message) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := min(len(ms), len(m.pending))
	for i, d := range m.pending[:k] {
		ms[i].N, ms[i].Addr = copy(ms[i].Buf, d.Buf[:d.N]), d.Addr
	}
	m.pending = m.pending[k:]
	return k
}

// noteHeard notes the datagrams ms read from the socket came now, for
// those from a direct path watched.
func (m *mux) noteHeard(ms []udp.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.heard) == 0 {
		return
	}
	now := time.Now()
	for _, d := range ms {
		addr := udp.Unmap(d.Addr)
		if _, ok := m.heard[addr]; ok {
			m.heard[addr] = now
		}
	}
}

func (m *mux) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	d := [1]udp.Message{{Buf: b}}
	if m.takePending(d[:]) == 1 {
		return d[0].N, d[0].Addr, nil
	}
	n, from, err := m.Conn.ReadFrom(b)
	if err == nil {
		d[0].Addr = from
		m.noteHeard(d[:])
	}
	return n, from, err
}

func (m *mux) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	if !IsHandle(addr) {
		return m.Conn.WriteTo(b, addr)
	}
	key, decided, ok := m.path.KnownKey(addr)
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
