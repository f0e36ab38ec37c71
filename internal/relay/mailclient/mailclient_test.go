package mailclient

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// fakeRelay records registrations and puts, and answers each put with
// status (or fails registration with refuse).
type fakeRelay struct {
	mu         sync.Mutex
	registered int
	puts       []keys.PublicKey
	status     uint8
	refuse     error
}

func (f *fakeRelay) Register(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered++
	return f.refuse
}

func (f *fakeRelay) PutMail(_ context.Context, to keys.PublicKey, _ []byte) (uint8, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, to)
	return f.status, nil
}

func (f *fakeRelay) Ack(uint64) error { return nil }

func (f *fakeRelay) Introduce(keys.PublicKey) netip.AddrPort { return netip.AddrPort{} }

const bob = "10.0.0.2:7475"

// aliceWithMailForBob is alice's node with one message for bob, who was
// in session and left before it was delivered.
func aliceWithMailForBob(t *testing.T) (*chat.Node, chat.Sent) {
	t.Helper()
	node, link := chattest.PeopleNode(t, "alice", "10.0.0.1:7475")
	go func() {
		for range node.Events() {
		}
	}()
	b := netip.MustParseAddrPort(bob)
	link.H.PeerUp(b)
	hello, err := wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatHello, Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if err := link.H.Receive(b, hello); err != nil {
		t.Fatal(err)
	}
	sent, err := node.Send("while you are away")
	if err != nil || len(sent) != 1 {
		t.Fatalf("send: %+v, %v", sent, err)
	}
	link.H.PeerClosed(b)
	return node, sent[0]
}

// udpchat send's last resort: with nothing to hold it does not register
// (a registration takes the chat's address at the relay for a while);
// with something, it registers, puts it in its person's mailbox and marks
// it held.
func TestHoldNowRegistersOnlyToHold(t *testing.T) {
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	empty, _ := chattest.PeopleNode(t, "alice", "10.0.0.1:7475")
	r := &fakeRelay{status: wire.MailStored}
	if err := HoldNow(context.Background(), r, empty, key, log); err != nil || r.registered != 0 {
		t.Errorf("nothing to hold: registered %d times, err %v; want no registration", r.registered, err)
	}

	node, sent := aliceWithMailForBob(t)
	if err := HoldNow(context.Background(), r, node, key, log); err != nil {
		t.Fatal(err)
	}
	if r.registered != 1 || len(r.puts) != 1 || r.puts[0] != keys.PublicKey(chattest.PersonKey(bob)) {
		t.Errorf("registered %d times, put for %v; want once, one put for bob", r.registered, r.puts)
	}
	if !node.IsHeld(sent.ID, sent.To) {
		t.Error("the message is not marked held")
	}
}

// A relay that does not answer, or does not store, leaves the message
// unheld: send then reports it not delivered.
func TestHoldNowLeavesUnheldWhatTheRelayDidNotTake(t *testing.T) {
	key, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for _, r := range []*fakeRelay{
		{refuse: context.DeadlineExceeded},
		{status: wire.MailBoxFull},
	} {
		node, sent := aliceWithMailForBob(t)
		err := HoldNow(context.Background(), r, node, key, log)
		if (r.refuse != nil) != errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("relay %+v: HoldNow %v", r, err)
		}
		if node.IsHeld(sent.ID, sent.To) {
			t.Errorf("relay %+v: the message is marked held", r)
		}
	}
}
