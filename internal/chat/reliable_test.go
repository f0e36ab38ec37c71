package chat_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// reliableNode starts a node named name on a transport endpoint at addr on
// mn, whose outgoing datagrams suffer imp. Its events are collected until
// the returned function, called after Close, returns them.
func reliableNode(t *testing.T, mn *udptest.MemNetwork, addr, name string, imp udptest.Impairment) (*chat.Node, func() []chat.Event) {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	n, err := chat.New(chat.Config{Name: name}, func(h link.Handler) (link.Link, error) {
		ep, err := transport.New(udptest.Impair(conn, imp), h, transport.Config{})
		if err != nil {
			return nil, err
		}
		return ep, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	collected := make(chan []chat.Event)
	go func() {
		var evs []chat.Event
		for ev := range n.Events() {
			evs = append(evs, ev)
		}
		collected <- evs
	}()
	return n, func() []chat.Event { return <-collected }
}

// messagesIn returns the texts of the messages in evs, in order.
func messagesIn(evs []chat.Event) []string {
	var texts []string
	for _, ev := range evs {
		if m, ok := ev.(chat.Message); ok {
			texts = append(texts, m.Name+": "+m.Text)
		}
	}
	return texts
}

func TestTwoReliableNodesOverALossyNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		bad := udptest.Impairment{Loss: 0.3, Duplicate: 0.1, Reorder: 0.1, Jitter: 5 * time.Millisecond}
		aliceImp, bobImp := bad, bad
		aliceImp.Seed, bobImp.Seed = 1, 2
		alice, aliceEvents := reliableNode(t, mn, "10.0.0.1:7475", "alice", aliceImp)
		bob, bobEvents := reliableNode(t, mn, "10.0.0.2:7475", "bob", bobImp)
		alice.Connect(bob.LocalAddr())
		bob.Connect(alice.LocalAddr())

		const count = 200
		var fromAlice, fromBob []string
		for i := range count {
			a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
			fromAlice, fromBob = append(fromAlice, "alice: "+a), append(fromBob, "bob: "+b)
			if _, err := alice.Send(a); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.Send(b); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, n := range []*chat.Node{alice, bob} {
			if err := n.WaitDelivered(ctx); err != nil {
				t.Fatalf("%s: %v; undelivered: %d", n.Name(), err, len(n.Undelivered()))
			}
		}
		if err := bob.Close(ctx); err != nil {
			t.Errorf("bob's Close: %v", err)
		}
		synctest.Wait() // alice has heard bob leave
		if err := alice.Close(ctx); err != nil {
			t.Errorf("alice's Close: %v", err)
		}

		aliceSaw, bobSaw := aliceEvents(), bobEvents()
		if got := messagesIn(aliceSaw); !slices.Equal(got, fromBob) {
			t.Errorf("alice got %d messages, want bob's %d in order: %q", len(got), count, got)
		}
		if got := messagesIn(bobSaw); !slices.Equal(got, fromAlice) {
			t.Errorf("bob got %d messages, want alice's %d in order", len(got), count)
		}
		if !slices.Contains(aliceSaw, chat.Event(chat.Joined{Peer: bob.LocalAddr(), Name: "bob"})) ||
			!slices.Contains(aliceSaw, chat.Event(chat.Left{Peer: bob.LocalAddr(), Name: "bob"})) {
			t.Errorf("alice did not see bob join and leave")
		}
		delivered := 0
		for _, ev := range bobSaw {
			if _, ok := ev.(chat.Delivered); ok {
				delivered++
			}
		}
		if delivered != count {
			t.Errorf("bob saw %d Delivered, want %d", delivered, count)
		}
	})
}
