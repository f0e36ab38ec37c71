package chat

import (
	"context"
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// heldThenJoined plays alice sending a line to bob's last-known address
// before his session is up; a relay takes it into his mailbox (held), and
// bob then joins from elsewhere (a relayed session), where it goes again.
// With alsoThere, the line also went to that other address, before bob
// joined there (so before it was known to be his). It returns the line's
// ID and the refs the link gave the copies that went to bob's session.
func heldThenJoined(t *testing.T, alsoThere bool) (*Node, *testStore, MessageID, []uint64) {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	n, l, _ := newPeopleNode(t, s, Config{KnownKeys: map[netip.AddrPort][32]byte{bob: bobPerson}})
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	if alsoThere {
		if err := n.ConnectKept(bobMoved); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := n.Send("before the session")
	if err != nil || len(sent) == 0 {
		t.Fatalf("Send: %v, %v", sent, err)
	}
	id := sent[0].ID
	mail := n.ToHold(0, 0)
	if len(mail) != 1 || mail[0].To != bob {
		t.Fatalf("to hold: %+v, want the line to bob's last-known address", mail)
	}
	if err := n.MarkHeld(mail[0]); err != nil {
		t.Fatal(err)
	}
	drain(n)
	join(t, n, bobMoved, "bob")
	var refs []uint64
	for _, f := range l.Take() {
		if m := parseSend(t, f); f.Peer == bobMoved && m.ID == id {
			refs = append(refs, f.Ref)
		}
	}
	if len(refs) != len(sent) {
		t.Fatalf("the line went to bob's session %d times, want %d", len(refs), len(sent))
	}
	drain(n)
	return n, s, id, refs
}

// receipt is bob's mailed receipt for id, as it comes out of our mailbox.
func receiptFor(t *testing.T, n *Node, id MessageID) {
	t.Helper()
	r, err := wire.AppendMailReceipt(nil, [][16]byte{id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.ReceiveMail(bobHandle, bobPerson, r); err != nil {
		t.Fatal(err)
	}
}

// deliveredOnce checks that id was delivered once, and that nothing is
// left pending or held of it, in memory or in the store.
func deliveredOnce(t *testing.T, n *Node, s *testStore, evs []Event, id MessageID) {
	t.Helper()
	var got []Delivered
	for _, ev := range evs {
		if d, ok := ev.(Delivered); ok {
			got = append(got, d)
		}
	}
	if len(got) != 1 || got[0].ID != id {
		t.Errorf("delivery events %v, want one for %s", got, id)
	}
	if u := n.Undelivered(); len(u) != 0 {
		t.Errorf("undelivered: %+v, want none", u)
	}
	if n.IsHeld(id, bob) || n.IsHeld(id, bobMoved) {
		t.Error("still said to be held by the relay")
	}
	if p, err := s.Pending(context.Background()); err != nil || len(p) != 0 {
		t.Errorf("the outbox: %+v, %v; want empty", p, err)
	}
	h, err := s.History(context.Background(), store.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h {
		if m.State != store.Delivered {
			t.Errorf("history has %s %v (held at %v): want it delivered", m.ID, m.State, m.HeldAt)
		}
	}
}

// heldCases are the ways a held line reaches bob's session: moved there
// from his last-known address, or also sent there, before it was known
// to be his (the lab's -p bob at the old address, and his relay handle
// connected after): two copies, one delivery.
var heldCases = []struct {
	name      string
	alsoThere bool
}{{"moved to the session", false}, {"also sent to the session's address", true}}

// A line held by the relay and then acknowledged over the session bob
// joined is delivered once; his mailed receipt that follows says nothing
// new.
func TestHeldThenDeliveredDirectlyIsDeliveredOnce(t *testing.T) {
	for _, c := range heldCases {
		t.Run(c.name, func(t *testing.T) {
			n, s, id, refs := heldThenJoined(t, c.alsoThere)
			n.Delivered(bobMoved, refs[0])
			evs := drain(n)
			if u := n.Undelivered(); len(u) != 0 {
				t.Errorf("undelivered once bob acknowledged the line: %+v", u)
			}
			if p, err := s.Pending(context.Background()); err != nil || len(p) != 0 {
				t.Errorf("the outbox once bob acknowledged the line: %+v, %v; want empty", p, err)
			}
			for _, r := range refs[1:] {
				n.Delivered(bobMoved, r)
			}
			receiptFor(t, n, id)
			evs = append(evs, drain(n)...)
			deliveredOnce(t, n, s, evs, id)
		})
	}
}

// The other order: bob's mailed receipt comes before the session's
// acknowledgement, which then says nothing new.
func TestHeldThenReceiptThenAcknowledgedIsDeliveredOnce(t *testing.T) {
	for _, c := range heldCases {
		t.Run(c.name, func(t *testing.T) {
			n, s, id, refs := heldThenJoined(t, c.alsoThere)
			receiptFor(t, n, id)
			evs := drain(n)
			if u := n.Undelivered(); len(u) != 0 {
				t.Errorf("undelivered after bob's receipt: %+v", u)
			}
			for _, r := range refs {
				n.Delivered(bobMoved, r)
			}
			evs = append(evs, drain(n)...)
			deliveredOnce(t, n, s, evs, id)
		})
	}
}
