package chat

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/wire"
)

// fakeIdentities refuses the names in refused, and knows one fingerprint
// for bob.
type fakeIdentities struct {
	mu      sync.Mutex
	refused map[string]bool
}

var errImpostor = errors.New("WARNING: bob presented a different identity key than before")

func (f *fakeIdentities) Fingerprint(peer netip.AddrPort) string {
	if peer == bob {
		return "BLAKE2s:TEST"
	}
	return ""
}

func (f *fakeIdentities) CheckName(peer netip.AddrPort, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused[name] {
		return errImpostor
	}
	return nil
}

func (f *fakeIdentities) allow(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.refused, name)
}

// A message under a name the sender's key may not use is not shown and not
// accepted, the user is warned once however often it comes, and once the
// user accepts the key, the next resend goes through.
func TestImpostorIsRefusedUntilAccepted(t *testing.T) {
	ids := &fakeIdentities{refused: map[string]bool{"bob": true}}
	n, _ := newFakeNode(t, Config{Name: "alice", PeerCheck: ids})
	n.PeerUp(bob)
	msg := chatPayload(t, wire.ChatText, "bob", "send me the keys")
	for range 3 {
		if err := n.Receive(bob, msg); !errors.Is(err, errImpostor) {
			t.Fatalf("Receive of an impostor's message: %v, want the refusal (so it is not acknowledged)", err)
		}
	}
	wantEvents(t, n, Error{Err: errImpostor})
	if got := n.Stats().Refused; got != 3 {
		t.Errorf("Refused = %d, want 3", got)
	}
	ids.allow("bob")
	if err := n.Receive(bob, msg); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Joined{Peer: bob, Name: "bob", Fingerprint: "BLAKE2s:TEST"}, Message{From: bob, Name: "bob", Text: "send me the keys"})
}

// A refused impostor never joined, so its session coming and going is no
// news: the user has the warning, and hears nothing of an address that
// never joined. A peer that did join is still seen to go.
func TestRefusedPeerComesAndGoesUnannounced(t *testing.T) {
	ids := &fakeIdentities{refused: map[string]bool{"bob": true}}
	n, _ := newFakeNode(t, Config{Name: "alice", PeerCheck: ids})
	impostor := netip.MustParseAddrPort("127.0.0.1:47813")
	n.PeerUp(impostor)
	if err := n.Receive(impostor, chatPayload(t, wire.ChatHello, "bob", "")); !errors.Is(err, errImpostor) {
		t.Fatalf("Receive of the impostor's hello: %v, want the refusal", err)
	}
	n.PeerUnreachable(impostor)
	n.PeerReachable(impostor)
	n.PeerClosed(impostor)
	wantEvents(t, n, Error{Err: errImpostor})

	n.PeerUp(carol)
	n.Receive(carol, chatPayload(t, wire.ChatHello, "carol", ""))
	n.PeerClosed(carol)
	wantEvents(t, n, Joined{Peer: carol, Name: "carol"}, Left{Peer: carol, Name: "carol"})
}

func TestPeersCarryFingerprints(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice", PeerCheck: &fakeIdentities{}})
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	ps := n.Peers()
	if len(ps) != 1 || ps[0].Fingerprint != "BLAKE2s:TEST" {
		t.Fatalf("Peers() = %+v, want bob with his fingerprint", ps)
	}
}

// lockCheckingIdentities fails the test if the node's lock is held when it
// asks for a fingerprint: the secure layer's locks are taken on paths that
// end in the node, so holding n.mu there could deadlock.
type lockCheckingIdentities struct {
	fakeIdentities
	t     *testing.T
	n     *Node
	calls int
}

func (f *lockCheckingIdentities) Fingerprint(peer netip.AddrPort) string {
	f.calls++ // only from the test's goroutine, via Receive
	if !f.n.mu.TryLock() {
		f.t.Errorf("Fingerprint(%s) called with the node's lock held", peer)
	} else {
		f.n.mu.Unlock()
	}
	return f.fakeIdentities.Fingerprint(peer)
}

// Joined carries the peer's fingerprint, looked up without the node's lock
// and only when a Joined may follow.
func TestJoinedCarriesTheFingerprint(t *testing.T) {
	ids := &lockCheckingIdentities{t: t}
	n, _ := newFakeNode(t, Config{Name: "alice", PeerCheck: ids})
	ids.n = n
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	n.Receive(bob, chatPayload(t, wire.ChatText, "bob", "hi"))
	n.Receive(bob, chatPayload(t, wire.ChatText, "bob", "again"))
	n.PeerUp(carol) // no key known for carol
	n.Receive(carol, chatPayload(t, wire.ChatText, "carol", "hello"))
	wantEvents(t, n,
		Joined{Peer: bob, Name: "bob", Fingerprint: "BLAKE2s:TEST"},
		Message{From: bob, Name: "bob", Text: "hi"},
		Message{From: bob, Name: "bob", Text: "again"},
		Joined{Peer: carol, Name: "carol"},
		Message{From: carol, Name: "carol", Text: "hello"},
	)
	if ids.calls != 2 {
		t.Errorf("Fingerprint called %d times, want 2 (once a Joined)", ids.calls)
	}
	// A new session announces bob again, with his key.
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatText, "bob", "back"))
	wantEvents(t, n, Joined{Peer: bob, Name: "bob", Fingerprint: "BLAKE2s:TEST"}, Message{From: bob, Name: "bob", Text: "back"})
}

// Only peers the user has seen join, or asked for, get what we send to
// everyone: not an address that started a session and never introduced
// itself (a prober), nor one whose name trust on first use refused (an
// impostor). A stranger who says hello joins, is announced, and gets it.
func TestSendsGoOnlyToPeersTheUserSaw(t *testing.T) {
	ids := &fakeIdentities{refused: map[string]bool{"bob": true}}
	n, link := newFakeNode(t, Config{Name: "alice", PeerCheck: ids})
	prober := netip.MustParseAddrPort("127.0.0.1:47812")
	impostor := netip.MustParseAddrPort("127.0.0.1:47813")
	n.PeerUp(prober)
	n.PeerUp(impostor)
	if err := n.Receive(impostor, chatPayload(t, wire.ChatHello, "bob", "")); !errors.Is(err, errImpostor) {
		t.Fatalf("Receive of the impostor's hello: %v, want the refusal", err)
	}
	wantEvents(t, n, Error{Err: errImpostor})
	link.Take() // the hellos
	if _, err := n.Send("for friends only"); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("Send with only a prober and an impostor about: %v, want ErrNoPeers", err)
	}

	n.PeerUp(carol)
	n.Receive(carol, chatPayload(t, wire.ChatHello, "carol", ""))
	wantEvents(t, n, Joined{Peer: carol, Name: "carol"})
	link.Take()
	if _, err := n.Send("hi carol"); err != nil {
		t.Fatal(err)
	}
	sends := link.Take()
	if len(sends) != 1 || sends[0].Peer != carol {
		t.Errorf("sent to %v, want carol alone", sends)
	}
}

// sentTexts are the texts of the chat messages (not hellos, nor features)
// in sends.
func sentTexts(t *testing.T, sends []linktest.Send) []string {
	t.Helper()
	var texts []string
	for _, s := range sends {
		m, err := wire.ParseChat(s.Msg)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != wire.ChatHello && m.Kind != wire.ChatFeatures { // news about us, not what we said
			texts = append(texts, s.Peer.String()+" "+m.Text)
		}
	}
	return texts
}

// An impostor at an address we chose, with a key new to us there, passed
// the handshake's check; only its hello showed it claims a name another
// key holds — by when it had our message, and acknowledged it (issue 16,
// item 1). Now nothing goes to a peer before it joins: it waits, pending,
// and goes once the user accepts the key (and the hello comes again), or
// not at all if cancelled meanwhile.
func TestNothingGoesToAPeerBeforeItJoins(t *testing.T) {
	ids := &fakeIdentities{refused: map[string]bool{"bob": true}}
	n, link := newFakeNode(t, Config{Name: "alice", PeerCheck: ids})
	if err := n.Connect(bob); err != nil {
		t.Fatal(err)
	}
	n.PeerUp(bob)
	sent, err := n.Send("SECRET")
	if err != nil || len(sent) != 1 {
		t.Fatalf("Send: %v, %v", sent, err)
	}
	cancelled, err := n.Send("never mind")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Cancel(cancelled[0].ID); err != nil {
		t.Fatal(err)
	}
	hello := chatPayload(t, wire.ChatHello, "bob", "")
	if err := n.Receive(bob, hello); !errors.Is(err, errImpostor) {
		t.Fatalf("Receive of the impostor's hello: %v, want the refusal", err)
	}
	if got := sentTexts(t, link.Take()); len(got) != 0 {
		t.Fatalf("sent to a peer whose name was refused: %q", got)
	}
	if u := n.Undelivered(); len(u) != 1 || u[0].Text != "SECRET" {
		t.Errorf("Undelivered = %v, want SECRET, waiting", u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := n.WaitDelivered(ctx); err == nil {
		t.Error("WaitDelivered returned with SECRET held")
	}

	ids.allow("bob") // udpchat trust
	if err := n.Receive(bob, hello); err != nil {
		t.Fatal(err)
	}
	sends := link.Take()
	if got := sentTexts(t, sends); len(got) != 1 || got[0] != bob.String()+" SECRET" {
		t.Fatalf("once bob joined, sent %q, want SECRET only", got)
	}
	n.Delivered(bob, sends[len(sends)-1].Ref)
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Once joined, a message goes at once.
	if _, err := n.Send("hi"); err != nil {
		t.Fatal(err)
	}
	if got := sentTexts(t, link.Take()); len(got) != 1 {
		t.Errorf("to a joined peer, sent %q", got)
	}
}

// A /nick while messages wait for a peer to join goes after them, so the
// peer ends up knowing the new name, not the one they were sent under.
func TestRenameWaitsBehindHeldMessages(t *testing.T) {
	carol := netip.MustParseAddrPort("127.0.0.1:9003")
	n, link := newFakeNode(t, Config{Name: "bob", PeerCheck: &fakeIdentities{}})
	if err := n.Connect(carol); err != nil {
		t.Fatal(err)
	}
	n.PeerUp(carol)
	if _, err := n.Send("hi"); err != nil {
		t.Fatal(err)
	}
	if err := n.SetName("robert"); err != nil {
		t.Fatal(err)
	}
	link.Take() // the hello of PeerUp
	if err := n.Receive(carol, chatPayload(t, wire.ChatHello, "carol", "")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range link.Take() {
		m, err := wire.ParseChat(s.Msg)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Name+": "+m.Text)
	}
	if len(got) != 2 || got[0] != "bob: hi" || got[1] != "robert: " {
		t.Errorf("once carol joined, sent %q; want hi under bob, then the hello of robert", got)
	}
}

// What waits for peers to join is bounded, as the link's queue is.
func TestHeldMessagesAreBounded(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice", PeerCheck: &fakeIdentities{}})
	if err := n.Connect(bob); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", MaxTextLen)
	var err error
	sent := 0
	for range maxHeld/MaxTextLen + 1 {
		if _, err = n.Send(text); err != nil {
			break
		}
		sent++
	}
	if !errors.Is(err, ErrHeldFull) || sent >= maxHeld/MaxTextLen {
		t.Fatalf("after %d messages of 256 KiB held: %v, want ErrHeldFull before 64 MiB", sent, err)
	}
	if u := n.Undelivered(); len(u) != sent {
		t.Errorf("%d undelivered, want the %d held", len(u), sent)
	}
}
