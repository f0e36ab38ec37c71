package chat

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// bobHandle is the address bob is known by through a relay.
var bobHandle = netip.MustParseAddrPort("[100::b00b]:7477")

// mailIdentities is keyedIdentities that also checks names in mail: every
// one is accepted.
type mailIdentities struct{ *keyedIdentities }

func (mailIdentities) CheckMailName(netip.AddrPort, [32]byte, string) error { return nil }

// newMailNode is alice's node with a store, on a fake link where bob's
// session is keyed bobPerson.
func newMailNode(t *testing.T) (*Node, *testStore) {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	ids := mailIdentities{&keyedIdentities{keys: map[netip.AddrPort][32]byte{bob: bobPerson}}}
	n, _ := newFakeNode(t, Config{Name: "alice", Store: s, PeerCheck: ids})
	return n, s
}

// mailID is the message ID in a chat payload.
func mailID(t *testing.T, payload []byte) [16]byte {
	t.Helper()
	m, err := wire.ParseChat(payload)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// A mail out of our mailbox is stored and shown once, under its sender's
// name, and answered with a receipt naming it, every time it comes (the
// sender may have lost the first receipt). It is not a session: its sender
// does not join. The same message coming again through a direct session
// is not shown again.
func TestMailIsShownOnceAndAnsweredWithAReceipt(t *testing.T) {
	n, s := newMailNode(t)
	payload := chatPayload(t, wire.ChatText, "bob", "while you were out")
	id := mailID(t, payload)
	for range 2 {
		receipt, err := n.ReceiveMail(bobHandle, bobPerson, payload)
		if err != nil {
			t.Fatal(err)
		}
		if ids, err := wire.ParseMailReceipt(receipt); err != nil || !slices.Equal(ids, [][16]byte{id}) {
			t.Fatalf("receipt %x (%v): want one naming %x", receipt, err, id)
		}
	}
	wantEvents(t, n, Message{ID: id, From: bobHandle, Name: "bob", Text: "while you were out"})
	if ps := n.Peers(); len(ps) != 0 {
		t.Errorf("after mail, the peers are %+v: want none (mail is not a session)", ps)
	}

	join(t, n, bob, "bob")
	if err := n.Receive(bob, payload); err != nil {
		t.Fatal(err)
	}
	for _, ev := range drain(n) {
		if m, ok := ev.(Message); ok {
			t.Errorf("the mailed message shown again when it came directly: %+v", m)
		}
	}
	h, err := s.History(context.Background(), store.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Text != "while you were out" || h[0].Person != bobPerson {
		t.Errorf("history %+v: want the mail once, from bob's key", h)
	}
}

// Mail that does not decode is dropped: no receipt, no error (keeping it
// would not make it decodable).
func TestUndecodableMailIsDropped(t *testing.T) {
	n, _ := newMailNode(t)
	for _, bad := range [][]byte{{0xff, 1, 2}, {wire.MailReceipt}} {
		if receipt, err := n.ReceiveMail(bobHandle, bobPerson, bad); receipt != nil || err != nil {
			t.Errorf("mail %x: receipt %x, err %v; want it dropped", bad, receipt, err)
		}
	}
	wantEvents(t, n)
}

// A receipt delivers the messages it names that were sent to the person
// who mailed it, wherever they were sent; one from someone else delivers
// nothing.
func TestReceiptMarksDeliveredByPerson(t *testing.T) {
	n, s := newMailNode(t)
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	sent, err := n.Send("see you")
	if err != nil {
		t.Fatal(err)
	}
	id := [16]byte(sent[0].ID)
	receipt, err := wire.AppendMailReceipt(nil, [][16]byte{id})
	if err != nil {
		t.Fatal(err)
	}
	drain(n)

	if _, err := n.ReceiveMail(netip.MustParseAddrPort("[100::ca20]:7477"), carolPerson, receipt); err != nil {
		t.Fatal(err)
	}
	if len(n.Undelivered()) != 1 {
		t.Fatalf("carol's receipt for bob's message delivered it: undelivered %+v", n.Undelivered())
	}
	if _, err := n.ReceiveMail(bobHandle, bobPerson, receipt); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Delivered{ID: sent[0].ID, To: bob})
	if u := n.Undelivered(); len(u) != 0 {
		t.Errorf("undelivered after bob's receipt: %+v", u)
	}
	if p, err := s.Pending(context.Background()); err != nil || len(p) != 0 {
		t.Errorf("the outbox after bob's receipt: %+v, %v; want empty", p, err)
	}
}

// WaitSettled ends once all that is undelivered is held by a relay: the
// relay gets it there without us.
func TestWaitSettledOnceAllThatIsLeftIsHeld(t *testing.T) {
	n, _ := newMailNode(t)
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	for _, text := range []string{"one", "two"} {
		if _, err := n.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	n.PeerClosed(bob)
	drain(n)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	wantUnsettled := func(when string) {
		t.Helper()
		if err := n.WaitSettled(cancelled); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: WaitSettled %v, want it waiting", when, err)
		}
	}
	wantUnsettled("nothing held")

	mail := n.ToHold(0, time.Hour)
	if len(mail) != 2 || mail[0].Person != bobPerson {
		t.Fatalf("to hold: %+v, want both messages, for bob", mail)
	}
	if err := n.MarkHeld(mail[0]); err != nil {
		t.Fatal(err)
	}
	wantUnsettled("one of two held")
	if err := n.MarkHeld(mail[1]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.WaitSettled(ctx); err != nil {
		t.Fatalf("both held: WaitSettled %v", err)
	}
	if err := n.WaitDelivered(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("held is not delivered: WaitDelivered %v", err)
	}
}

// A held message is handed to a relay again once it has been held for
// the time asked, and not before: the relay may have lost it, and only a
// receipt says it got there. Marking it held again says nothing new.
func TestHeldMessagesAreMailedAgain(t *testing.T) {
	n, _ := newMailNode(t)
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	if _, err := n.Send("are you there"); err != nil {
		t.Fatal(err)
	}
	n.PeerClosed(bob)
	drain(n)
	mail := n.ToHold(0, time.Hour)
	if len(mail) != 1 {
		t.Fatalf("to hold: %+v, want the message", mail)
	}
	if err := n.MarkHeld(mail[0]); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Held{ID: mail[0].ID, To: bob})
	if again := n.ToHold(0, time.Hour); len(again) != 0 {
		t.Errorf("held a moment ago, to hold again within the hour: %+v", again)
	}
	again := n.ToHold(0, 0)
	if len(again) != 1 || !bytes.Equal(again[0].Payload, mail[0].Payload) {
		t.Fatalf("to hold again once the time is up: %+v, want the same mail", again)
	}
	if err := n.MarkHeld(again[0]); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n)
	if !n.IsHeld(mail[0].ID, bob) {
		t.Error("not held after it was mailed again")
	}
}

// handleIdentities is mailIdentities that also knows whose relay handle
// bobHandle is, before any session there (KnownKeys).
type handleIdentities struct{ mailIdentities }

func (handleIdentities) KnownKey(peer netip.AddrPort) ([32]byte, bool) {
	return bobPerson, peer == bobHandle
}

// A peer chosen at a relay handle that never answers (the relay still
// listed someone who has just gone) is the person the handle stands for:
// what is sent to them is to hand to a relay, sealed for them, and the
// reports name them as the user knows them, not by the handle.
func TestAHandleThatNeverAnswersIsItsPerson(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	ids := handleIdentities{mailIdentities{&keyedIdentities{keys: map[netip.AddrPort][32]byte{}}}}
	knownName := func(person [32]byte) string {
		if person == bobPerson {
			return "bob"
		}
		return ""
	}
	n, _ := newFakeNode(t, Config{Name: "alice", Store: s, PeerCheck: ids, KnownName: knownName})
	if err := n.ConnectKept(bobHandle); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send("are you there"); err != nil {
		t.Fatal(err)
	}
	drain(n)
	mail := n.ToHold(0, time.Hour)
	if len(mail) != 1 || mail[0].Person != bobPerson || mail[0].To != bobHandle {
		t.Fatalf("to hold: %+v, want the message, for bob at his handle", mail)
	}
	peers := n.PeersKnown()
	if len(peers) != 1 || peers[0].Name != "bob" {
		t.Errorf("peers known: %+v, want bob, by name", peers)
	}
}
