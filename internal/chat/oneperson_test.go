package chat

import (
	"context"
	"net/netip"
	"testing"
)

// twoAddressesOfBob is alice's node with bob chosen at two addresses that
// are both known as his (his last-known direct address and his relay
// handle, say: --peer 127.0.0.1:9202 --peer bob), neither in session.
func twoAddressesOfBob(t *testing.T) (*Node, *forgetfulLink, *testStore) {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	n, l, _ := newPeopleNode(t, s, Config{KnownKeys: map[netip.AddrPort][32]byte{bob: bobPerson, bobMoved: bobPerson}})
	for _, a := range []netip.AddrPort{bob, bobMoved} {
		if err := n.ConnectKept(a); err != nil {
			t.Fatal(err)
		}
	}
	return n, l, s
}

// refsOfLineTo is the refs of the frames of id the link was given for addr.
func refsOfLineTo(t *testing.T, l *forgetfulLink, addr netip.AddrPort, id MessageID) []uint64 {
	t.Helper()
	var refs []uint64
	for _, f := range l.Take() {
		if m := parseSend(t, f); m.ID == id {
			if f.Peer != addr {
				t.Errorf("the line went to %s, want only %s", f.Peer, addr)
				continue
			}
			refs = append(refs, f.Ref)
		}
	}
	return refs
}

// A line to two addresses known as one person goes to that person once:
// one row in the outbox, one copy for the relay to hold, delivered once
// whichever address bob's session comes up at.
func TestTwoAddressesOfOnePersonGetOneCopy(t *testing.T) {
	for _, at := range []netip.AddrPort{bob, bobMoved} {
		t.Run(at.String(), func(t *testing.T) {
			n, l, s := twoAddressesOfBob(t)
			sent, err := n.Send("to bob once")
			if err != nil || len(sent) != 1 {
				t.Fatalf("Send: %+v, %v; want one copy sent", sent, err)
			}
			id := sent[0].ID
			if p, err := s.Pending(context.Background()); err != nil || len(p) != 1 {
				t.Fatalf("the outbox: %+v, %v; want one row", p, err)
			}
			if mail := n.ToHold(0, 0); len(mail) != 1 || mail[0].ID != id {
				t.Fatalf("to hold: %+v, want the one copy", mail)
			}
			drain(n)
			join(t, n, at, "bob")
			refs := refsOfLineTo(t, l, at, id)
			if len(refs) != 1 {
				t.Fatalf("the line went to bob's session %d times, want once", len(refs))
			}
			drain(n)
			n.Delivered(at, refs[0])
			deliveredOnce(t, n, s, drain(n), id)
		})
	}
}

// With bob in session at one of his addresses, the one copy goes there.
func TestOnePersonsCopyGoesToTheAddressInSession(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, l, _ := newPeopleNode(t, s, Config{KnownKeys: map[netip.AddrPort][32]byte{bob: bobPerson}})
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bobMoved, "bob")
	drain(n)
	l.Take()
	sent, err := n.Send("to bob in session")
	if err != nil || len(sent) != 1 || sent[0].To != bobMoved {
		t.Fatalf("Send: %+v, %v; want one copy, to %s", sent, err, bobMoved)
	}
	refs := refsOfLineTo(t, l, bobMoved, sent[0].ID)
	if len(refs) != 1 {
		t.Fatalf("the line went to bob's session %d times, want once", len(refs))
	}
	drain(n)
	n.Delivered(bobMoved, refs[0])
	deliveredOnce(t, n, s, drain(n), sent[0].ID)
}
