package chat

import (
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// A peer that moves is the same peer: the user hears where it went, the
// peer list shows it there, and what it says and what we send it stays
// under its first address, as the link goes on naming it.
func TestRoamedPeerIsTheSamePeerElsewhere(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"})
	link.Take()

	moved := netip.MustParseAddrPort("10.0.0.99:7475")
	n.PeerRoamed(bob, netip.AddrPortFrom(netip.AddrFrom16(moved.Addr().As16()), moved.Port())) // as a dual-stack socket reads it
	n.PeerRoamed(bob, moved)                                                                   // told twice: one move
	wantEvents(t, n, Moved{Peer: bob, Name: "bob", From: bob, To: moved})
	if ps := n.Peers(); len(ps) != 1 || ps[0].Addr != bob || ps[0].Endpoint != moved || ps[0].At() != moved {
		t.Fatalf("Peers() = %+v, want bob named by %s, at %s", ps, bob, moved)
	}

	sent, err := n.Send("still there?")
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].To != bob {
		t.Fatalf("Send = %+v, want one message to %s", sent, bob)
	}
	sends := link.Take()
	if len(sends) != 1 || sends[0].Peer != bob {
		t.Fatalf("link sends %+v, want one to %s: the link follows the peer", sends, bob)
	}
	n.Delivered(bob, sends[0].Ref)
	n.Receive(bob, chatPayload(t, wire.ChatText, "bob", "yes"))
	want := sent[0]
	want.At = time.Time{} // sameEvent ignores times
	wantEvents(t, n, want, Delivered{ID: sent[0].ID, To: bob}, Message{From: bob, Name: "bob", Text: "yes"})

	n.PeerRoamed(bob, bob) // back home
	wantEvents(t, n, Moved{Peer: bob, Name: "bob", From: moved, To: bob})
	if ps := n.Peers(); ps[0].Endpoint.IsValid() || ps[0].At() != bob {
		t.Errorf("Peers() = %+v, want bob at %s, with no other endpoint", ps, bob)
	}
}

// Like its other comings and goings, the move of a peer the user never saw
// join is no news, and one the node does not know is not added.
func TestRoamUnannounced(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	n.PeerUp(carol) // a session, but no hello: never joined
	moved := netip.MustParseAddrPort("10.0.0.99:7475")
	n.PeerRoamed(carol, moved)
	n.PeerRoamed(bob, moved)
	wantEvents(t, n)
	if ps := n.Peers(); len(ps) != 1 || ps[0].Addr != carol || ps[0].At() != moved {
		t.Errorf("Peers() = %+v, want carol alone, at %s", ps, moved)
	}
}
