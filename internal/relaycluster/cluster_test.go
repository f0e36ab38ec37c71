package relaycluster

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
	"github.com/udpchat/udpchat/internal/wire"
)

// TestThreeRelaysShareOneRegistryAndMailboxes runs three relays, each on a
// node of a three-node NATS cluster, and clients spread across them.
func TestThreeRelaysShareOneRegistryAndMailboxes(t *testing.T) {
	ns := natstest.StartCluster(t, 3)
	a := startClusterRelay(t, connect(t, ns, 0), relay.Config{})
	b := startClusterRelay(t, connect(t, ns, 1), relay.Config{})
	c := startClusterRelay(t, connect(t, ns, 2), relay.Config{})

	t.Run("chat across relays", func(t *testing.T) {
		alice, bob := startClient(t, a, newKey(t)), startClient(t, b, newKey(t))
		talk(t, alice, bob, "hello bob, from relay A")
		talk(t, bob, alice, "hello alice, from relay B")
		// Rendezvous: the relays' answers are one relay's view of the other's client.
		bobObs, _ := bob.Observed()
		if got := lookup(t, alice, bob.key.Public()); got[0] != bobObs {
			t.Errorf("alice at A sees bob at %v, want where B sees him, %v", got, bobObs)
		}
		if from := receive(t, bob.calls, "call me maybe through relay B"); from != alice.key.Public() {
			t.Errorf("bob was called by %s, want alice", from.Fingerprint())
		}
		if st := b.Stats(); st.PeerReceived == 0 || st.Relayed == 0 {
			t.Errorf("relay B took %d peer messages and relayed %d, want some of each", st.PeerReceived, st.Relayed)
		}
	})

	t.Run("mail put at A is fetched at C", func(t *testing.T) {
		alice, bobKey := startClient(t, a, newKey(t)), newKey(t)
		blob, err := relay.SealMail(alice.key, bobKey.Public(), []byte("see you at the harbour at six"))
		if err != nil {
			t.Fatal(err)
		}
		// The second put is the first resent: one blob is held.
		for range 2 {
			putMail(t, alice, bobKey.Public(), blob)
		}
		bob := startClient(t, c, bobKey)
		m := receive(t, bob.mails, "bob's mail at relay C")
		if _, msg, err := relay.OpenMail(bobKey, m.Blob); err != nil || string(msg) != "see you at the harbour at six" {
			t.Fatalf("bob opens %q, %v", msg, err)
		}
		if err := bob.Ack(m.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the ack at C deletes the mail", func() bool {
			left, err := a.mail.Fetch(context.Background(), bobKey.Public(), time.Now(), relay.MailPerFetch)
			return err == nil && len(left) == 0
		})
		select {
		case m := <-bob.mails:
			t.Errorf("bob was handed a second mail %d: the resent put was stored twice", m.ID)
		default:
		}

		// Online at C, bob is handed mail put at A at once.
		putMail(t, alice, bobKey.Public(), []byte("sealed"))
		if m := receive(t, bob.mails, "mail at once"); string(m.Blob) != "sealed" {
			t.Fatalf("bob got %q", m.Blob)
		}
	})

	t.Run("a client moves to another relay while its relay lives", func(t *testing.T) {
		carol, bobKey := startClient(t, b, newKey(t)), newKey(t)
		talk(t, carol, startClient(t, b, bobKey), "bob at B, as carol")
		held := b.Stats().Clients
		bob := startClient(t, c, bobKey) // the same key, now at C
		// B still holds bob's registration, but the registry says he is
		// at C since: B sends there, and forgets him.
		talk(t, carol, bob, "bob at C")
		if st := b.Stats(); st.Clients != held-1 {
			t.Errorf("B holds %d registrations, want %d: bob's is over", st.Clients, held-1)
		}
	})

	t.Run("a client fails over to another relay", func(t *testing.T) {
		alice, bobKey := startClient(t, a, newKey(t)), newKey(t)
		bob := startClient(t, b, bobKey)
		talk(t, alice, bob, "before")
		b.stop()
		bob = startClient(t, c, bobKey) // the client's next relay
		talk(t, alice, bob, "after: the chat goes on through relay C")
		talk(t, bob, alice, "and back")
		bobObs, _ := bob.Observed()
		if got := lookup(t, alice, bobKey.Public()); got[0] != bobObs {
			t.Errorf("alice sees bob at %v, want where C sees him, %v", got, bobObs)
		}
	})
}

// TestNATSNodeKilledMidStream kills the NATS node relay A is connected to
// while alice, at A, sends bob, offline, a stream of mail: A fails over to
// another node, and bob, at relay C, gets every mail exactly once.
func TestNATSNodeKilledMidStream(t *testing.T) {
	ns := natstest.StartCluster(t, 3)
	ncA := connect(t, ns, 0)
	a := startClusterRelay(t, ncA, relay.Config{})
	c := startClusterRelay(t, connect(t, ns, 2), relay.Config{})
	alice, bobKey := startClient(t, a, newKey(t)), newKey(t)

	const n = 24
	sent := make(map[string]bool)
	for i := range n {
		if i == n/2 {
			ns.Nodes[0].Shutdown()
		}
		blob, err := relay.SealMail(alice.key, bobKey.Public(), fmt.Appendf(nil, "message %d", i))
		if err != nil {
			t.Fatal(err)
		}
		putMail(t, alice, bobKey.Public(), blob)
		sent[string(blob)] = true
	}

	if ncA.ConnectedServerName() == "n0" || ncA.Stats().Reconnects == 0 {
		t.Errorf("relay A is on NATS node %q after %d reconnects; want another node than the dead n0",
			ncA.ConnectedServerName(), ncA.Stats().Reconnects)
	}
	bob := startClient(t, c, bobKey)
	got := make(map[string]bool)
	for len(got) < n {
		m := receive(t, bob.mails, fmt.Sprintf("mail %d of %d", len(got)+1, n))
		if got[string(m.Blob)] {
			t.Fatalf("mail %d handed over twice", m.ID)
		}
		if !sent[string(m.Blob)] {
			t.Fatalf("mail %d is not one alice sent", m.ID)
		}
		got[string(m.Blob)] = true
		if err := bob.Ack(m.ID); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every mail acked and deleted", func() bool {
		left, err := c.mail.Fetch(context.Background(), bobKey.Public(), time.Now(), relay.MailPerFetch)
		return err == nil && len(left) == 0
	})
	// And the registry still carries the chat from A, on its new node.
	talk(t, alice, bob, "still here")
}

// talk has from forward a datagram to to until one arrives: the first few
// may go where to was before the registry told every relay where it is now
// (forwarding is at most once; the chat above resends).
func talk(t *testing.T, from, to *testClient, text string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%q delivered", text), func() bool {
		if err := from.Forward(to.key.Public(), []byte(text)); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case d := <-to.delivered:
				if bytes.Equal(d, []byte(text)) {
					return true
				}
			case <-time.After(100 * time.Millisecond):
				return false
			}
		}
	})
}

// lookup asks for key's candidates until the relay knows where it is.
func lookup(t *testing.T, c *testClient, key keys.PublicKey) []netip.AddrPort {
	t.Helper()
	var got []netip.AddrPort
	eventually(t, "candidates", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		got, err = c.Lookup(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return len(got) > 0
	})
	return got
}

func putMail(t *testing.T, c *testClient, to keys.PublicKey, blob []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if status, err := c.PutMail(ctx, to, blob); err != nil || status != wire.MailStored {
		t.Fatalf("PutMail: status %d, %v; want stored", status, err)
	}
}
