package chat

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/link/linktest"
)

// ourAddr is where the node under test listens, on a fake link.
var ourAddr = netip.MustParseAddrPort("127.0.0.1:7475")

// newFakeNode returns a node on a fake link, which the test plays the
// network through (calling the node's Handler methods itself), closed at
// the end of the test.
func newFakeNode(t *testing.T, cfg Config) (*Node, *linktest.Link) {
	t.Helper()
	l := linktest.New(ourAddr)
	n, err := New(cfg, l.Open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, l
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
