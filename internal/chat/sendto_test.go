package chat

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

func TestSendToOnePeer(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	for _, p := range []netip.AddrPort{carol, bob} {
		if err := n.Connect(p); err != nil {
			t.Fatal(err)
		}
	}
	s, err := n.SendTo(carol, "psst")
	if err != nil {
		t.Fatal(err)
	}
	if s.To != carol || s.Text != "psst" || s.ID == (MessageID{}) {
		t.Fatalf("SendTo returned %+v", s)
	}
	wantEvents(t, n, Sent{ID: s.ID, To: carol, Text: "psst", Direct: true})
	// carol's features never come (it is not even up): after the wait for
	// them, it gets the message as text.
	n.featuresWaitOver(carol)
	sends := link.Take()
	if len(sends) != 1 || sends[0].Peer != carol {
		t.Fatalf("sends %+v, want one to carol", sends)
	}
	if m := parseSend(t, sends[0]); m.Kind != wire.ChatText || m.ID != s.ID || m.Text != "psst" {
		t.Errorf("payload %+v", m)
	}
	if u := n.Undelivered(); len(u) != 1 || u[0].To != carol {
		t.Fatalf("Undelivered = %+v, want the message to carol", u)
	}
	n.Delivered(carol, sends[0].Ref)
	wantEvents(t, n, Delivered{ID: s.ID, To: carol})
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSendToRefuses(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	if _, err := n.SendTo(carol, "hi"); err == nil || !strings.Contains(err.Error(), "not in the conversation") {
		t.Errorf("SendTo a stranger: %v", err)
	}
	if _, err := n.SendTo(bob, strings.Repeat("x", MaxTextLen+1)); err == nil {
		t.Error("SendTo took a message over MaxTextLen")
	}
	if s := link.Take(); len(s) != 0 {
		t.Errorf("refused sends reached the link: %+v", s)
	}
	n.Close(context.Background())
	if _, err := n.SendTo(bob, "hi"); !errors.Is(err, ErrClosed) {
		t.Errorf("SendTo after Close: %v, want ErrClosed", err)
	}
}

func TestPeerStatsWithoutStatsIsErrNoStats(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	if _, err := n.PeerStats(context.Background()); !errors.Is(err, ErrNoStats) {
		t.Errorf("PeerStats on a link without numbers: %v, want ErrNoStats", err)
	}
}

// A /msg is marked direct on the wire for a peer whose features say it
// understands the mark, and is plain text for one that did not say so (an
// older udpchat, which would drop a kind it does not know). A direct
// message received is a Message marked Direct; features are news to no UI.
func TestDirectMessagesAreMarked(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.Connect(carol)
	n.PeerUp(bob)
	n.PeerUp(carol)
	for _, s := range link.Take() {
		if m := parseSend(t, s); m.Kind == wire.ChatFeatures && !wire.HasFeature(m.Text, wire.FeatureDirect) {
			t.Errorf("our features to %s are %q, want %q among them", s.Peer, m.Text, wire.FeatureDirect)
		}
	}
	for _, p := range []struct {
		addr     netip.AddrPort
		name     string
		features string
	}{{bob, "bob", "direct something-newer"}, {carol, "carol", ""}} {
		n.Receive(p.addr, chatPayload(t, wire.ChatHello, p.name, ""))
		if p.features != "" {
			n.Receive(p.addr, chatPayload(t, wire.ChatFeatures, p.name, p.features))
		}
	}
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"}, Joined{Peer: carol, Name: "carol"})

	for _, tc := range []struct {
		to   netip.AddrPort
		kind wire.ChatKind
	}{{bob, wire.ChatDirect}, {carol, wire.ChatText}} {
		s, err := n.SendTo(tc.to, "psst")
		if err != nil || !s.Direct {
			t.Fatalf("SendTo(%s) = %+v, %v; want it marked Direct", tc.to, s, err)
		}
		wantEvents(t, n, Sent{ID: s.ID, To: tc.to, Text: "psst", Direct: true})
		if tc.to == carol { // it waits for features carol never sends
			if sends := link.Take(); len(sends) != 0 {
				t.Fatalf("/msg to carol went before the wait for its features was over: %+v", sends)
			}
			n.featuresWaitOver(carol)
		}
		if m := parseSend(t, link.Take()[0]); m.Kind != tc.kind || m.Text != "psst" {
			t.Errorf("/msg to %s went as %+v, want kind %d", tc.to, m, tc.kind)
		}
	}
	if sent, _ := n.Send("everyone"); len(sent) != 2 || sent[0].Direct || sent[1].Direct {
		t.Errorf("Send = %+v, want two Sent not marked Direct", sent)
	}

	n.Receive(bob, chatPayload(t, wire.ChatDirect, "bob", "just you"))
	var got []Message
	for range 3 {
		if m, ok := nextEvent(t, n).(Message); ok {
			got = append(got, m)
		}
	}
	if len(got) != 1 || !got[0].Direct || got[0].Text != "just you" {
		t.Errorf("a direct message arrived as %+v, want one Message marked Direct", got)
	}
}

// A /msg to a peer whose features have not arrived yet waits for them, and
// what we send that peer after it waits behind it: sent as plain text, a
// peer of this version would show a message for it alone as one to everyone.
func TestDirectMessageWaitsForFeatures(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"})
	link.Take() // our hello and features

	direct, err := n.SendTo(bob, "psst")
	if err != nil {
		t.Fatal(err)
	}
	after, err := n.Send("everyone")
	if err != nil {
		t.Fatal(err)
	}
	if sends := link.Take(); len(sends) != 0 {
		t.Fatalf("sent before bob's features arrived: %+v", sends)
	}
	n.Receive(bob, chatPayload(t, wire.ChatFeatures, "bob", wire.FeatureDirect))
	sends := link.Take()
	if len(sends) != 2 {
		t.Fatalf("after bob's features: sends %+v, want the /msg and the message after it", sends)
	}
	if m := parseSend(t, sends[0]); m.Kind != wire.ChatDirect || m.ID != direct.ID {
		t.Errorf("first send %+v, want the /msg as direct text", m)
	}
	if m := parseSend(t, sends[1]); m.Kind != wire.ChatText || m.ID != after[0].ID {
		t.Errorf("second send %+v, want the message sent after the /msg", m)
	}
}
