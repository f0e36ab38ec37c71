package chat

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeLink is a Link that records what the node asks of it; tests play the
// link's part by calling the node's Handler methods themselves.
type fakeLink struct {
	mu        sync.Mutex
	sends     []fakeSend
	connected []netip.AddrPort
	lastRef   uint64
	closed    bool
	// What Close was given: its ctx's error and deadline at the time.
	closeCtxErr   error
	closeDeadline time.Time
	// onSend, if set, is called (without mu) with each send as it is made.
	onSend func(fakeSend)
}

type fakeSend struct {
	peer netip.AddrPort
	msg  []byte
	ref  uint64
}

func (l *fakeLink) Connect(peer netip.AddrPort) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.connected = append(l.connected, peer)
	return nil
}

func (l *fakeLink) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	l.mu.Lock()
	l.lastRef++
	s := fakeSend{peer: peer, msg: append([]byte(nil), msg...), ref: l.lastRef}
	l.sends = append(l.sends, s)
	onSend := l.onSend
	l.mu.Unlock()
	if onSend != nil {
		onSend(s)
	}
	return s.ref, nil
}

func (l *fakeLink) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.closeCtxErr = ctx.Err()
	l.closeDeadline, _ = ctx.Deadline()
	return nil
}

func (l *fakeLink) LocalAddr() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:7475") }

// takeSends returns the sends made since the last call.
func (l *fakeLink) takeSends() []fakeSend {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sends
	l.sends = nil
	return s
}

// newFakeNode returns a node on a fakeLink, closed at the end of the test.
func newFakeNode(t *testing.T, cfg Config) (*Node, *fakeLink) {
	t.Helper()
	link := &fakeLink{}
	n, err := New(cfg, func(Handler) (Link, error) { return link, nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, link
}

// nextEvent returns the next event, failing the test if none comes soon.
func nextEvent(t *testing.T, n *Node) Event {
	t.Helper()
	select {
	case ev := <-n.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return nil
	}
}

// wantEvents checks the next events are want and no more are queued.
// Handler calls made by the test emit before they return, so what is not
// queued by then was not emitted.
func wantEvents(t *testing.T, n *Node, want ...Event) {
	t.Helper()
	for _, w := range want {
		if got := nextEvent(t, n); !sameEvent(got, w) {
			t.Fatalf("event %#v, want %#v", got, w)
		}
	}
	select {
	case ev := <-n.Events():
		t.Fatalf("unexpected event %#v", ev)
	default:
	}
}

// sameEvent compares events, ignoring times and (where want has none) IDs,
// which the node makes up.
func sameEvent(got, want Event) bool {
	switch g := got.(type) {
	case Message:
		w, ok := want.(Message)
		if w.ID == (MessageID{}) {
			g.ID = MessageID{}
		}
		g.At = time.Time{}
		return ok && g == w
	case Sent:
		w, ok := want.(Sent)
		if w.ID == (MessageID{}) {
			g.ID = MessageID{}
		}
		g.At = time.Time{}
		return ok && g == w
	}
	return got == want
}
