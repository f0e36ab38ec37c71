// Package transporttest is what the tests of a transport.Endpoint share, in
// its own package and the layers around it: a link.Handler that records what an
// endpoint reports, and numbered test messages that show any loss,
// duplication, reordering or corruption.
//
// It does not import transport, so that transport's in-package tests can
// use it without an import cycle; Recorder meets link.Handler by its
// method set alone.
package transporttest

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// Recorder is a link.Handler that remembers everything an endpoint
// reports, and lets a test wait for a condition on it. Its methods may be
// called from any goroutine.
type Recorder struct {
	mu        sync.Mutex // guards the fields below
	received  map[netip.AddrPort][][]byte
	arrivedAt map[netip.AddrPort][]time.Time // when each of received came
	delivered map[uint64]bool
	events    []string // "up", "closed", "unreachable", "reachable" or "gone", a space and the peer; "roamed", the peer and its endpoint

	// changed wakes WaitFor after any change; one pending signal is
	// enough, since WaitFor looks at everything again when it wakes.
	changed chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{
		received:  map[netip.AddrPort][][]byte{},
		arrivedAt: map[netip.AddrPort][]time.Time{},
		delivered: map[uint64]bool{},
		changed:   make(chan struct{}, 1),
	}
}

func (r *Recorder) update(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Receive records a copy of msg, since the endpoint may reuse its buffer,
// and the time it came.
func (r *Recorder) Receive(p netip.AddrPort, msg []byte) error {
	now := time.Now()
	r.update(func() {
		r.received[p] = append(r.received[p], bytes.Clone(msg))
		r.arrivedAt[p] = append(r.arrivedAt[p], now)
	})
	return nil
}

// Delivered records that the message with this ref reached p.
func (r *Recorder) Delivered(p netip.AddrPort, ref uint64) {
	r.update(func() { r.delivered[ref] = true })
}

func (r *Recorder) event(name string, addrs ...netip.AddrPort) {
	e := name
	for _, a := range addrs {
		e += " " + a.String()
	}
	r.update(func() { r.events = append(r.events, e) })
}

// PeerUp records the event "up <p>".
func (r *Recorder) PeerUp(p netip.AddrPort) { r.event("up", p) }

// PeerClosed records the event "closed <p>".
func (r *Recorder) PeerClosed(p netip.AddrPort) { r.event("closed", p) }

// PeerUnreachable records the event "unreachable <p>".
func (r *Recorder) PeerUnreachable(p netip.AddrPort) { r.event("unreachable", p) }

// PeerReachable records the event "reachable <p>".
func (r *Recorder) PeerReachable(p netip.AddrPort) { r.event("reachable", p) }

// PeerGone records the event "gone <p>".
func (r *Recorder) PeerGone(p netip.AddrPort) { r.event("gone", p) }

// PeerRoamed records the event "roamed <p> <endpoint>".
func (r *Recorder) PeerRoamed(p, endpoint netip.AddrPort) { r.event("roamed", p, endpoint) }

// Received returns the messages from p so far, in the order they came.
func (r *Recorder) Received(p netip.AddrPort) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.received[p])
}

// ReceivedAt returns the messages from p so far and when each came, taken
// together so that the two line up.
func (r *Recorder) ReceivedAt(p netip.AddrPort) ([][]byte, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.received[p]), slices.Clone(r.arrivedAt[p])
}

// Count returns how many messages have come from p.
func (r *Recorder) Count(p netip.AddrPort) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received[p])
}

// AllDelivered reports whether every one of refs has been reported
// delivered.
func (r *Recorder) AllDelivered(refs []uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		if !r.delivered[ref] {
			return false
		}
	}
	return true
}

// NumDelivered returns how many messages have been reported delivered.
func (r *Recorder) NumDelivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.delivered)
}

// Events returns the peer events so far, in order, each as "up <peer>",
// "closed <peer>", "unreachable <peer>", "reachable <peer>", "gone <peer>"
// or "roamed <peer> <endpoint>".
func (r *Recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// HasEvent reports whether e is among Events.
func (r *Recorder) HasEvent(e string) bool {
	return slices.Contains(r.Events(), e)
}

// WaitFor blocks until cond holds, failing the test if limit passes first
// (in a synctest bubble, virtual time). cond is checked once at the start
// and again after every change to r, so it should read r through its
// methods.
func (r *Recorder) WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Message builds the i-th test message of a stream, at least 8 bytes long:
// the stream and i, then pseudo-random bytes seeded by both, so that any
// corruption, loss or reordering shows.
func Message(stream, i, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.BigEndian.PutUint32(b, uint32(stream))
	binary.BigEndian.PutUint32(b[4:], uint32(i))
	rng := rand.New(rand.NewPCG(uint64(stream), uint64(i)))
	for j := 8; j < len(b); j++ {
		b[j] = byte(rng.Uint32())
	}
	return b
}

// CheckStream fails the test unless got is exactly messages 0 to n-1 of the
// stream, in order, message i of sizeOf(i) bytes.
func CheckStream(t testing.TB, got [][]byte, stream, n int, sizeOf func(i int) int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("stream %d: got %d messages, want %d", stream, len(got), n)
	}
	for i, m := range got {
		if want := Message(stream, i, sizeOf(i)); !bytes.Equal(m, want) {
			t.Fatalf("stream %d: message %d is wrong: %d bytes, starts %x; want %d bytes, starts %x",
				stream, i, len(m), m[:8], len(want), want[:8])
		}
	}
}

// HeapInUse collects twice (sync.Pool keeps buffers through one collection)
// and returns the heap in use: what flood tests compare before and after.
func HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
