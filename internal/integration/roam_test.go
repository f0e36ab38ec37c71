package integration_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

var _ transport.RoamingConn = (*secure.Conn)(nil)

// TestRoamMidStream: A's address changes while messages stream both ways.
// Every message arrives exactly once and in order, with no new handshake;
// B's transport still names A by its first address and hears where it went
// (link.Roamer). Replaying everything A sent, from its old address, moves
// nothing and delivers nothing twice; a rekey later, from the new address,
// stays with the same peer.
func TestRoamMidStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		innerA := securetest.Listen(t, n, addrA)
		sentByA := &securetest.Recorder{}
		storeA, storeB := securetest.NewTrustStore(), securetest.NewTrustStore()
		a := newChatter(t, udptest.Impair(innerA, udptest.Impairment{Observe: sentByA.Observe}),
			secure.Config{Static: securetest.MustKey(t), Verify: storeA.Verify})
		b := newChatter(t, securetest.Listen(t, n, addrB), secure.Config{Static: securetest.MustKey(t), Verify: storeB.Verify})

		s := streams{a: a, b: b}
		stream := func(count int) {
			t.Helper()
			for range count {
				s.queue(t, 1)
				time.Sleep(20 * time.Millisecond) // a stream over (virtual) time, not one burst
			}
		}
		stream(300)
		before := handshakesOf(a, b)
		addrA2, err := n.Move(innerA, netip.MustParseAddrPort("10.0.0.99:0"))
		if err != nil {
			t.Fatal(err)
		}
		stream(300)
		s.wait(t, time.Hour)
		checkFollowed(t, a, b, addrA2, before)

		// Everything A sent, again, from its old address.
		old := securetest.Listen(t, n, addrA)
		beforeReplay := b.sec.Stats()
		for _, d := range sentByA.All() {
			old.WriteTo(d.B, d.To)
		}
		synctest.Wait()
		after := b.sec.Stats()
		if after.Roams != beforeReplay.Roams || after.PacketsIn != beforeReplay.PacketsIn {
			t.Errorf("replays from the old address: %d moves (was %d), %d packets in (was %d)",
				after.Roams, beforeReplay.Roams, after.PacketsIn, beforeReplay.PacketsIn)
		}
		t.Logf("replays dropped: %v", securetest.DiffDrops(beforeReplay.Drops[:], after.Drops[:], secure.DropReason.String))

		// Past RekeyAfterTime: a new session, from A's new address, for the
		// same peer; the stream goes on.
		time.Sleep(2*time.Minute + 20*time.Second)
		stream(100)
		s.wait(t, time.Hour)
		sa, sb := a.sec.Stats(), b.sec.Stats()
		if sa.Rekeys+sb.Rekeys == 0 {
			t.Errorf("no rekey after %v", 2*time.Minute+20*time.Second)
		}
		if e, _ := b.sec.Endpoint(addrA); e != addrA2 || storeA.Refused+storeB.Refused != 0 {
			t.Errorf("after the rekey: B's endpoint for A %v (want %v), %d refusals", e, addrA2, storeA.Refused+storeB.Refused)
		}
		onePeer(t, b, addrA)
		a.close()
		b.close()
		old.Close()
	})
}

// handshakes are how many handshakes A has started and B completed.
type handshakes struct{ startedA, completedB uint64 }

func handshakesOf(a, b *chatter) handshakes {
	return handshakes{a.sec.Stats().HandshakesStarted, b.sec.Stats().HandshakesCompleted}
}

// checkFollowed checks that B followed A's move to endpoint, its one move,
// with no handshake since before, told its handler, and still names A by
// its handle (a.addr).
func checkFollowed(t *testing.T, a, b *chatter, endpoint netip.AddrPort, before handshakes) {
	t.Helper()
	t.Logf("A %+v\nB %+v", a.sec.Stats(), b.sec.Stats())
	if now := handshakesOf(a, b); now != before {
		t.Errorf("handshakes (A started, B completed): %v before the move, %v after", before, now)
	}
	if e, _ := b.sec.Endpoint(a.addr); e != endpoint || b.sec.Stats().Roams != 1 {
		t.Errorf("B's endpoint for A is %v after %d moves, want %v after 1", e, b.sec.Stats().Roams, endpoint)
	}
	if want := "roamed " + a.addr.String() + " " + endpoint.String(); !b.rec.HasEvent(want) {
		t.Errorf("B's handler heard %q, not %q", b.rec.Events(), want)
	}
	onePeer(t, b, a.addr)
}

// onePeer checks that c's secure layer and transport each have one peer,
// named handle.
func onePeer(t *testing.T, c *chatter, handle netip.AddrPort) {
	t.Helper()
	if s := c.sec.Stats(); s.Peers != 1 {
		t.Errorf("secure has %d peers, want 1", s.Peers)
	}
	ps, err := c.ep.PeerStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Addr != handle {
		t.Errorf("transport peers %+v, want only %v", ps, handle)
	}
}
