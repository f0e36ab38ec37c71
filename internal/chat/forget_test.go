package chat

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// forgettingLink is a fake link that records what it was told to forget.
type forgettingLink struct {
	*linktest.Link
	mu     sync.Mutex
	forgot []netip.AddrPort
}

func (l *forgettingLink) Forget(peer netip.AddrPort) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgot = append(l.forgot, peer)
	return nil
}

func pendingTo(t *testing.T, s *testStore) []string {
	t.Helper()
	p, err := s.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range p {
		out = append(out, m.Peer+" "+m.Text)
	}
	return out
}

// Only a peer the user chose and that has answered gets outbox rows: a
// chosen address that never answered (a typo, a machine that is off) and a
// peer that merely contacted us are held in memory and recorded as sent,
// so a later run waits on neither (issue 16, items 5 and 11b).
func TestOutboxOnlyForChosenPeersThatAnswered(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, link := newFakeNode(t, Config{Name: "alice", Store: s})
	dead := netip.MustParseAddrPort("10.0.0.99:7475")
	for _, p := range []netip.AddrPort{bob, dead} {
		if err := n.Connect(p); err != nil {
			t.Fatal(err)
		}
	}
	n.PeerUp(bob)
	n.PeerUp(carol) // a stranger that introduces itself
	if err := n.Receive(carol, chatPayload(t, wire.ChatHello, "carol", "")); err != nil {
		t.Fatal(err)
	}
	link.Take()
	sent, err := n.Send("hi")
	if err != nil {
		t.Fatal(err)
	}
	kept := map[netip.AddrPort]bool{}
	for _, s := range sent {
		kept[s.To] = s.Kept
	}
	if len(sent) != 3 || !kept[bob] || kept[carol] || kept[dead] {
		t.Fatalf("sent %+v: want all three, kept for bob only", sent)
	}
	if got := pendingTo(t, s); !slices.Equal(got, []string{PeerKey(bob) + " hi"}) {
		t.Errorf("outbox: %q, want bob's only", got)
	}
	if st := stateOf(t, s, carol, sent[0].ID); st != store.Sent {
		t.Errorf("carol's copy is %v in the history, want sent", st)
	}
	if got := n.Unanswered(); !slices.Equal(got, []netip.AddrPort{dead}) {
		t.Errorf("Unanswered = %v, want %v", got, []netip.AddrPort{dead})
	}
	// A delivery to a peer whose copy is not kept is recorded all the same.
	for _, f := range link.Take() {
		if f.Peer == carol {
			n.Delivered(carol, f.Ref)
		}
	}
	if st := stateOf(t, s, carol, sent[0].ID); st != store.Delivered {
		t.Errorf("carol's copy is %v once delivered", st)
	}
}

// A peer the link forgot is forgotten by the node too, with what it held
// for it; one the user chose is kept.
func TestPeerGoneForgetsAStranger(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.PeerUp(carol)
	if err := n.Receive(carol, chatPayload(t, wire.ChatHello, "carol", "")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Joined{Peer: carol, Name: "carol"})
	link.Take()
	sent, err := n.Send("hi")
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Sent{ID: sent[0].ID, To: bob, Text: "hi"}, Sent{ID: sent[0].ID, To: carol, Text: "hi"})
	n.PeerGone(carol)
	n.PeerGone(bob) // chosen: kept
	wantEvents(t, n, Cancelled{ID: sent[0].ID, To: carol})
	if ps := n.Peers(); len(ps) != 1 || ps[0].Addr != bob {
		t.Errorf("peers: %+v, want bob only", ps)
	}
	if u := n.Undelivered(); len(u) != 1 || u[0].To != bob {
		t.Errorf("undelivered: %+v, want bob's copy only", u)
	}
}

// /forget drops a peer, chosen or not, cancels what waits for it in the
// outbox too, and tells the link.
func TestForgetDropsAPeerAndItsOutbox(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	fl := &forgettingLink{Link: linktest.New(ourAddr)}
	n, err := New(Config{Name: "alice", Store: s}, func(h link.Handler) (link.Link, error) { return fl, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	n.Connect(bob)
	n.Connect(carol)
	n.PeerUp(bob)
	n.PeerUp(carol)
	sent, err := n.Send("hi")
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Sent{ID: sent[0].ID, To: bob, Text: "hi", Kept: true}, Sent{ID: sent[0].ID, To: carol, Text: "hi", Kept: true})
	cancelled, err := n.Forget(carol)
	if err != nil || len(cancelled) != 1 || cancelled[0].To != carol {
		t.Fatalf("Forget = %+v, %v", cancelled, err)
	}
	wantEvents(t, n, Cancelled{ID: sent[0].ID, To: carol})
	if got := pendingTo(t, s); !slices.Equal(got, []string{PeerKey(bob) + " hi"}) {
		t.Errorf("outbox after /forget carol: %q", got)
	}
	if !slices.Equal(fl.forgot, []netip.AddrPort{carol}) {
		t.Errorf("the link was told to forget %v", fl.forgot)
	}
	if _, err := n.Forget(carol); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("Forget twice: %v, want ErrUnknownPeer", err)
	}
	if sent, err := n.Send("again"); err != nil || len(sent) != 1 || sent[0].To != bob {
		t.Errorf("Send after /forget carol: %+v, %v", sent, err)
	}
}

// A send-only process (udpchat send) says so in its features; it is shown,
// but never made a recipient (issue 16, item 11a).
func TestSendOnlyPeerIsNeverARecipient(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "bob"})
	n.Connect(carol)
	n.PeerUp(carol)
	sender := netip.MustParseAddrPort("10.0.0.1:40000")
	n.PeerUp(sender)
	// Its message may come before its hello and features: it was queued
	// before the session was up.
	for _, m := range [][]byte{
		chatPayload(t, wire.ChatText, "alice", "hi"),
		chatPayload(t, wire.ChatHello, "alice", ""),
		chatPayload(t, wire.ChatFeatures, "alice", wire.FeatureDirect+" "+wire.FeatureSendOnly),
	} {
		if err := n.Receive(sender, m); err != nil {
			t.Fatal(err)
		}
	}
	wantEvents(t, n, Joined{Peer: sender, Name: "alice"}, Message{From: sender, Name: "alice", Text: "hi"})
	link.Take()
	sent, err := n.Send("x")
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].To != carol {
		t.Fatalf("sent %+v, want carol only", sent)
	}
	for _, f := range link.Take() {
		if f.Peer == sender {
			t.Errorf("sent %+v to the send-only process", parseSend(t, f))
		}
	}

	// And its own features say so.
	s, sl := newFakeNode(t, Config{Name: "alice", SendOnly: true})
	s.Connect(bob)
	s.PeerUp(bob)
	sends := sl.Take()
	if len(sends) != 2 || !wire.HasFeature(parseSend(t, sends[1]).Text, wire.FeatureSendOnly) {
		t.Fatalf("a send-only node's introduction: %+v", sends)
	}
}
