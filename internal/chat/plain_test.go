package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// plainNode starts a node named name on a plain link at addr on mn, closed
// at the end of the test.
func plainNode(t *testing.T, mn *udptest.MemNetwork, addr, name string) *chat.Node {
	t.Helper()
	n := chattest.PlainNode(t, mn, addr, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("Close %s: %v", name, err)
		}
	})
	return n
}

// expect reads n's events up to and including the first that is not a
// Sent, and checks it is want (ignoring IDs and times, which vary).
func expect(t *testing.T, n *chat.Node, want chat.Event) {
	t.Helper()
	ev := chattest.NextEvent(t, n, chat.Sent{})
	if m, ok := ev.(chat.Message); ok {
		m.ID, m.At = chat.MessageID{}, time.Time{}
		ev = m
	}
	if ev != want {
		t.Fatalf("%s got %#v, want %#v", n.Name(), ev, want)
	}
}

func TestTwoPlainNodesChat(t *testing.T) {
	mn := udptest.NewMemNetwork()
	alice := plainNode(t, mn, "10.0.0.1:7475", "alice")
	bob := plainNode(t, mn, "10.0.0.2:7475", "bob")

	if err := bob.Connect(alice.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hi alice", "are you there?"} {
		if _, err := bob.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, alice, chat.Joined{Peer: bob.LocalAddr(), Name: "bob"})
	expect(t, alice, chat.Message{From: bob.LocalAddr(), Name: "bob", Text: "hi alice"})
	expect(t, alice, chat.Message{From: bob.LocalAddr(), Name: "bob", Text: "are you there?"})

	// bob wrote to alice more than once (one datagram may be forged), so
	// he is in her conversation now.
	if _, err := alice.SendAction("waves"); err != nil {
		t.Fatal(err)
	}
	expect(t, bob, chat.Joined{Peer: alice.LocalAddr(), Name: "alice"})
	expect(t, bob, chat.Message{From: alice.LocalAddr(), Name: "alice", Text: "waves", Action: true})
}

// The classic scripts leave by sending bye or exit and quitting: the line
// is shown, and then the peer is seen to leave. What it sends next makes it
// join again.
func TestPlainPeerLeavesWithBye(t *testing.T) {
	mn := udptest.NewMemNetwork()
	alice := plainNode(t, mn, "10.0.0.1:7475", "alice")
	bob := plainNode(t, mn, "10.0.0.2:7475", "bob")
	if err := bob.Connect(alice.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	from := bob.LocalAddr()
	for _, text := range []string{"goodbye", " Exit ", "back", "bye"} {
		if _, err := bob.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.SendAction("bye"); err != nil { // "/me bye" is an action, not a leave
		t.Fatal(err)
	}
	for _, want := range []chat.Event{
		chat.Joined{Peer: from, Name: "bob"},
		chat.Message{From: from, Name: "bob", Text: "goodbye"},
		chat.Message{From: from, Name: "bob", Text: " Exit "},
		chat.Left{Peer: from, Name: "bob"},
		chat.Joined{Peer: from, Name: "bob"},
		chat.Message{From: from, Name: "bob", Text: "back"},
		chat.Message{From: from, Name: "bob", Text: "bye"},
		chat.Left{Peer: from, Name: "bob"},
		chat.Joined{Peer: from, Name: "bob"},
		chat.Message{From: from, Name: "bob", Text: "bye", Action: true},
	} {
		expect(t, alice, want)
	}
}
