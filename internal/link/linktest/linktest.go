// Package linktest is a link.Link for tests of what runs on a link (the
// chat node, and the UIs on it): it records what it is asked to send, and
// the test plays the network's part by calling the Handler the link was
// opened with (H) itself — a peer's reply, a delivery, a peer leaving —
// exactly when it wants. No sockets and no timers, so such a test says
// what the node does with each thing the link reports, in order.
package linktest

import (
	"bytes"
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/link"
)

// queueSize is how many sends Sends holds before Send waits for the test
// to read them: far more than any test makes without reading them.
const queueSize = 1024

// Send is one message given to the link.
type Send struct {
	Peer netip.AddrPort
	Msg  []byte // a copy: the caller may reuse its own
	Ref  uint64 // what Send returned, for the test's Handler.Delivered
}

// Link records what it is asked; make one with New or NewQueued, and give
// its Open to whatever builds on a link (chat.New).
type Link struct {
	// Addr is what LocalAddr returns.
	Addr netip.AddrPort
	// H is the Handler Open was given: the test calls it to play the
	// network.
	H link.Handler
	// Sends, made by NewQueued (nil otherwise), receives every send too,
	// in order, for a test that waits for each one or relays them
	// between nodes. Send waits while it is full.
	Sends chan Send

	mu      sync.Mutex // guards the fields below
	lastRef uint64
	sent    []Send // every send so far
	taken   int    // how many of sent Take has returned
	onSend  func(Send)
	// What Close was given: its context's error and deadline then.
	closeErr      error
	closeDeadline time.Time
	closed        chan struct{}
}

var _ link.Link = (*Link)(nil)

// New returns a Link at addr that records its sends (Sent, Take).
func New(addr netip.AddrPort) *Link {
	return &Link{Addr: addr, closed: make(chan struct{})}
}

// NewQueued is New with Sends, for a test that reads the sends as they
// are made.
func NewQueued(addr netip.AddrPort) *Link {
	l := New(addr)
	l.Sends = make(chan Send, queueSize)
	return l
}

// Open plays the link's constructor, as chat.New's newLink: it keeps h,
// the node, as H and returns l.
func (l *Link) Open(h link.Handler) (link.Link, error) {
	l.H = h
	return l, nil
}

// Connect does nothing: there is no handshake to start; the test says when
// a peer is up (H.PeerUp).
func (l *Link) Connect(netip.AddrPort) error { return nil }

// Send records msg for peer and returns the next ref. It never fails.
func (l *Link) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	l.mu.Lock()
	l.lastRef++
	s := Send{Peer: peer, Msg: bytes.Clone(msg), Ref: l.lastRef}
	l.sent = append(l.sent, s)
	onSend := l.onSend
	l.mu.Unlock()
	if onSend != nil {
		onSend(s)
	}
	if l.Sends != nil {
		l.Sends <- s
	}
	return s.Ref, nil
}

// OnSend has f called with each later send as it is made, before Send
// returns: to check what is true at that moment (what the store holds,
// say), or to answer at once.
func (l *Link) OnSend(f func(Send)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onSend = f
}

// Sent returns every send so far. It empties Sends, if there is one: a
// test reads either Sent (or Take) or Sends.
func (l *Link) Sent() []Send {
	l.drain()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Send(nil), l.sent...)
}

// Take returns the sends made since the last Take. Like Sent, it empties
// Sends.
func (l *Link) Take() []Send {
	l.drain()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := append([]Send(nil), l.sent[l.taken:]...)
	l.taken = len(l.sent)
	return s
}

// drain empties Sends, whose sends are all in l.sent already.
func (l *Link) drain() {
	for {
		select {
		case <-l.Sends: // a nil Sends is never ready
		default:
			return
		}
	}
}

// Close marks the link closed (Done) and records ctx's error and deadline
// (CloseContext). Calling it again changes nothing.
func (l *Link) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return nil
	default:
	}
	l.closeErr = ctx.Err()
	l.closeDeadline, _ = ctx.Deadline()
	close(l.closed)
	return nil
}

// CloseContext is what Close found of its context: its deadline (zero if
// none) and its error, at the time.
func (l *Link) CloseContext() (deadline time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeDeadline, l.closeErr
}

// Done is closed once the link is closed.
func (l *Link) Done() <-chan struct{} { return l.closed }

// Closed reports whether the link has been closed.
func (l *Link) Closed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// LocalAddr returns Addr.
func (l *Link) LocalAddr() netip.AddrPort { return l.Addr }
