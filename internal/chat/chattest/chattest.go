// Package chattest holds what the tests of the chat node and of the UIs on
// it share: a fake link through which a test plays the network, a node on
// the plain link over udptest's in-memory network, and waiting for events.
package chattest

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/plain"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// WaitTimeout bounds every wait here; no test should come near it.
const WaitTimeout = 5 * time.Second

// sendQueue is how many sends a Link keeps before Send blocks the node:
// far more than any test makes without reading them.
const sendQueue = 1024

// Send is one message the node gave the link.
type Send struct {
	Peer netip.AddrPort
	Msg  []byte
	Ref  uint64
}

// Link stands in for the reliable transport: what the node sends waits in
// Sends until the test (or a relay it runs) plays the network's part, calling
// the node's Handler, H, itself.
type Link struct {
	Addr  netip.AddrPort
	H     chat.Handler // the node, as chat.New handed it to the link
	Sends chan Send    // every Send, in order

	mu      sync.Mutex // guards the fields below
	lastRef uint64
	taken   []Send // what Sent has read out of Sends
	closed  chan struct{}
}

// NewNode returns a reliable-mode node on a Link at addr. Nothing closes
// it: the test, or the UI it runs, does.
func NewNode(t testing.TB, cfg chat.Config, addr string) (*chat.Node, *Link) {
	t.Helper()
	link := &Link{
		Addr:   netip.MustParseAddrPort(addr),
		Sends:  make(chan Send, sendQueue),
		closed: make(chan struct{}),
	}
	n, err := chat.New(cfg, func(h chat.Handler) (chat.Link, error) {
		link.H = h
		return link, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, link
}

func (l *Link) Connect(netip.AddrPort) error { return nil }

func (l *Link) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	l.mu.Lock()
	l.lastRef++
	s := Send{peer, bytes.Clone(msg), l.lastRef}
	l.mu.Unlock()
	l.Sends <- s
	return s.Ref, nil
}

// Close marks the link closed (Done); the node closes it once.
func (l *Link) Close(context.Context) error { close(l.closed); return nil }

func (l *Link) LocalAddr() netip.AddrPort { return l.Addr }

// Done is closed once the node has closed the link.
func (l *Link) Done() <-chan struct{} { return l.closed }

// Closed reports whether the node has closed the link.
func (l *Link) Closed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// Sent returns every send so far, taking them out of Sends: a test uses
// either Sent or Sends.
func (l *Link) Sent() []Send {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		select {
		case s := <-l.Sends:
			l.taken = append(l.taken, s)
		default:
			return append([]Send(nil), l.taken...)
		}
	}
}

// PlainNode starts a node named name on a plain link at addr on mn. Nothing
// closes it: the test, or the UI it runs, does.
func PlainNode(t testing.TB, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	n, err := chat.New(chat.Config{Name: name, Plain: true}, func(h chat.Handler) (chat.Link, error) {
		return plain.New(conn, h), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// NextEvent returns n's next event, skipping those of the types of skip
// (chat.Sent{}, say), and fails the test if none comes within WaitTimeout.
func NextEvent(t testing.TB, n *chat.Node, skip ...chat.Event) chat.Event {
	t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		select {
		case ev := <-n.Events():
			if !sameType(ev, skip) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event within %v", WaitTimeout)
			return nil
		}
	}
}

func sameType(ev chat.Event, of []chat.Event) bool {
	for _, o := range of {
		if reflect.TypeOf(ev) == reflect.TypeOf(o) {
			return true
		}
	}
	return false
}
