package chat

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

var (
	bob   = netip.MustParseAddrPort("10.0.0.2:7475")
	carol = netip.MustParseAddrPort("10.0.0.3:7475")
)

func chatPayload(t *testing.T, kind wire.ChatKind, name, text string) []byte {
	t.Helper()
	b, err := wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: newID(), Name: name, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseSend(t *testing.T, s linktest.Send) wire.ChatMessage {
	t.Helper()
	m, err := wire.ParseChat(s.Msg)
	if err != nil {
		t.Fatalf("node sent an undecodable payload to %s: %v", s.Peer, err)
	}
	return m
}

func TestNewRefusesAnInvalidName(t *testing.T) {
	_, err := New(Config{Name: "a:b"}, func(link.Handler) (link.Link, error) {
		t.Fatal("newLink called for an invalid config")
		return nil, nil
	})
	if err == nil {
		t.Fatal("New accepted the name a:b")
	}
}

func TestNewReturnsTheLinkError(t *testing.T) {
	want := errors.New("no socket")
	if _, err := New(Config{Name: "alice"}, func(link.Handler) (link.Link, error) { return nil, want }); err != want {
		t.Fatalf("New = %v, want %v", err, want)
	}
}

// A peer in the conversation hears our hello as soon as a session is up.
func TestPeerUpSendsAHello(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.PeerUp(bob)
	sends := link.Take()
	if len(sends) != 2 || sends[0].Peer != bob || sends[1].Peer != bob {
		t.Fatalf("sends after PeerUp: %+v, want a hello and our features to %s", sends, bob)
	}
	if m := parseSend(t, sends[0]); m.Kind != wire.ChatHello || m.Name != "alice" || m.Text != "" {
		t.Errorf("hello = %+v", m)
	}
	if m := parseSend(t, sends[1]); m.Kind != wire.ChatFeatures || m.Text != wire.FeatureDirect {
		t.Errorf("features = %+v", m)
	}
	wantEvents(t, n) // a session alone is not a join: the peer's hello is
}

// An address that only opened a session (a handshake and a contact: a
// prober) gets nothing carrying our name: our hello waits until it has
// introduced itself (issue 16, item 10).
func TestNoHelloToAnAddressThatDidNotIntroduceItself(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.PeerUp(bob)
	if sends := link.Take(); len(sends) != 0 {
		t.Fatalf("sent %d payloads to an address that only opened a session", len(sends))
	}
	if err := n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", "")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"})
	if sends := link.Take(); len(sends) != 2 || parseSend(t, sends[0]).Kind != wire.ChatHello {
		t.Fatalf("sends once it introduced itself: %+v, want our hello and features", sends)
	}
	// A later session of a peer that joined before gets ours at once.
	n.PeerUp(bob)
	if sends := link.Take(); len(sends) != 2 || parseSend(t, sends[0]).Kind != wire.ChatHello {
		t.Fatalf("sends at its next session: %+v", sends)
	}
}

func TestPeerUpWhileNewRunsIsGreetedOnceTheLinkExists(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	m := store.Message{ID: newID(), Peer: PeerKey(bob), Kind: int(wire.ChatText), Name: "alice", Text: "waiting"}
	if err := s.AddOutgoing(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	l := linktest.New(ourAddr)
	n, err := New(Config{Name: "alice", Store: s}, func(h link.Handler) (link.Link, error) {
		h.PeerUp(bob) // the link's goroutine may be this quick
		return l.Open(h)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	sends := l.Take()
	if len(sends) != 3 || sends[0].Peer != bob || parseSend(t, sends[0]).Kind != wire.ChatHello ||
		parseSend(t, sends[2]).Text != "waiting" {
		t.Fatalf("sends: %+v, want a hello (and our features) to %s, then what waited for it in the outbox", sends, bob)
	}
}

func TestReceiveJoinsRenamesAndShowsMessages(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"})

	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", "")) // same name: nothing
	n.Receive(bob, chatPayload(t, wire.ChatText, "bob", "hi\nthere"))
	n.Receive(bob, chatPayload(t, wire.ChatAction, "bob", "waves"))
	n.Receive(bob, chatPayload(t, wire.ChatHello, "robert", ""))
	wantEvents(t, n,
		Message{From: bob, Name: "bob", Text: "hi\nthere"},
		Message{From: bob, Name: "bob", Text: "waves", Action: true},
		Renamed{Peer: bob, OldName: "bob", Name: "robert"},
	)

	// A restart is a new session: its first message announces the peer again.
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatText, "robert", "back"))
	wantEvents(t, n, Joined{Peer: bob, Name: "robert"}, Message{From: bob, Name: "robert", Text: "back"})
}

// A message under a new name that overtakes the hello announcing it (bob's
// /nick went before his session with us was up at his end, so the hello
// came later) renames him before it is shown, and the hello then says
// nothing more.
func TestMessageUnderANewNameRenamesFirst(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatText, "bob", "hi"))
	n.Receive(bob, chatPayload(t, wire.ChatText, "robert", "renamed"))
	n.Receive(bob, chatPayload(t, wire.ChatHello, "robert", ""))
	n.Receive(bob, chatPayload(t, wire.ChatText, "robert", "again"))
	wantEvents(t, n,
		Joined{Peer: bob, Name: "bob"},
		Message{From: bob, Name: "bob", Text: "hi"},
		Renamed{Peer: bob, OldName: "bob", Name: "robert"},
		Message{From: bob, Name: "robert", Text: "renamed"},
		Message{From: bob, Name: "robert", Text: "again"},
	)
}

func TestMessageKeepsTheSendersID(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	m := wire.ChatMessage{Kind: wire.ChatText, ID: [16]byte{1, 2, 3}, Name: "bob", Text: "x"}
	b, err := wire.AppendChat(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	n.Receive(bob, b)
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"}, Message{ID: m.ID, From: bob, Name: "bob", Text: "x"})
}

func TestUndecodablePayloadsAreDroppedAndCounted(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	good := chatPayload(t, wire.ChatText, "bob", "ok")
	for _, bad := range [][]byte{nil, {0xff}, good[:10], append([]byte{9}, good[1:]...)} {
		n.Receive(bob, bad)
	}
	n.Receive(bob, good)
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"}, Message{From: bob, Name: "bob", Text: "ok"})
	if s := n.Stats(); s.Undecodable != 4 || s.Received != 1 {
		t.Errorf("stats %+v, want 4 undecodable and 1 received", s)
	}
}

func TestSendNeedsAPeer(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	if _, err := n.Send("hello"); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("Send with no peers = %v, want ErrNoPeers", err)
	}
	if s := link.Take(); len(s) != 0 {
		t.Errorf("sent %+v", s)
	}
}

func TestSendRefusesWhatCannotBeAMessage(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	for _, text := range []string{strings.Repeat("x", MaxTextLen+1), "\xff"} {
		if _, err := n.Send(text); err == nil {
			t.Errorf("Send(%.10q…) accepted", text)
		}
	}
	if s := link.Take(); len(s) != 0 {
		t.Errorf("sent %d payloads", len(s))
	}
	if _, err := n.Send(strings.Repeat("x", MaxTextLen)); err != nil {
		t.Errorf("Send of exactly MaxTextLen bytes: %v", err)
	}
}

func TestSendToEveryPeerUntilDelivered(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	for _, p := range []netip.AddrPort{carol, bob} {
		if err := n.Connect(p); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := n.Send("hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[0].To != bob || sent[1].To != carol || sent[0].ID != sent[1].ID {
		t.Fatalf("Send returned %+v, want one message to bob then carol", sent)
	}
	id := sent[0].ID
	wantEvents(t, n, Sent{ID: id, To: bob, Text: "hello"}, Sent{ID: id, To: carol, Text: "hello"})
	sends := link.Take()
	for _, s := range sends {
		if m := parseSend(t, s); m.Kind != wire.ChatText || m.ID != id || m.Name != "alice" || m.Text != "hello" {
			t.Errorf("payload to %s: %+v", s.Peer, m)
		}
	}
	if len(n.Undelivered()) != 2 {
		t.Fatalf("Undelivered = %+v, want both", n.Undelivered())
	}

	waited := make(chan error)
	go func() { waited <- n.WaitDelivered(context.Background()) }()
	n.Delivered(bob, sends[0].Ref)
	n.Delivered(bob, 999) // unknown refs (hellos) are ignored
	wantEvents(t, n, Delivered{ID: id, To: bob})
	if u := n.Undelivered(); len(u) != 1 || u[0].To != carol {
		t.Fatalf("Undelivered = %+v, want carol's", u)
	}
	n.Delivered(carol, sends[1].Ref)
	wantEvents(t, n, Delivered{ID: id, To: carol})
	if err := <-waited; err != nil {
		t.Fatalf("WaitDelivered: %v", err)
	}
	if u := n.Undelivered(); len(u) != 0 {
		t.Errorf("Undelivered = %+v, want none", u)
	}
}

func TestSendActionIsAnAction(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	sent, err := n.SendAction("waves")
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Sent{ID: sent[0].ID, To: bob, Text: "waves", Action: true})
	if m := parseSend(t, link.Take()[0]); m.Kind != wire.ChatAction || m.Text != "waves" {
		t.Errorf("payload %+v, want an action", m)
	}
}

func TestWaitDeliveredEndsWithTheContext(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatalf("WaitDelivered with nothing sent: %v", err)
	}
	n.Connect(bob)
	n.Send("lost")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.WaitDelivered(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitDelivered = %v, want context.Canceled", err)
	}
}

func TestSetNameTellsEveryPeer(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.Connect(carol)
	n.PeerUp(bob)
	n.PeerUp(carol)
	link.Take()
	if err := n.SetName("bad\x1bname"); err == nil {
		t.Fatal("SetName accepted an escape character")
	}
	if err := n.SetName("alicia"); err != nil {
		t.Fatal(err)
	}
	if n.Name() != "alicia" {
		t.Errorf("Name() = %q", n.Name())
	}
	sends := link.Take()
	if len(sends) != 2 {
		t.Fatalf("%d sends, want a hello to each of 2 peers", len(sends))
	}
	for _, s := range sends {
		if m := parseSend(t, s); m.Kind != wire.ChatHello || m.Name != "alicia" {
			t.Errorf("to %s: %+v, want a hello from alicia", s.Peer, m)
		}
	}
}

func TestPresence(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	n.Connect(carol)
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", ""))
	n.PeerReachable(bob) // was not unreachable: nothing to say
	n.PeerUnreachable(bob)
	n.PeerUnreachable(bob) // said already
	if got := n.Peers(); len(got) != 2 ||
		got[0] != (PeerInfo{Addr: bob, Name: "bob", State: PeerUnreachable}) ||
		got[1] != (PeerInfo{Addr: carol, State: PeerConnecting}) {
		t.Errorf("Peers() = %+v", got)
	}
	n.PeerReachable(bob)
	n.PeerClosed(bob)
	n.PeerClosed(carol) // never joined: her leaving is no news
	wantEvents(t, n,
		Joined{Peer: bob, Name: "bob"},
		Unreachable{Peer: bob, Name: "bob"},
		Reachable{Peer: bob, Name: "bob"},
		Left{Peer: bob, Name: "bob"},
	)
	if got := n.Peers(); got[0].State != PeerLeft || got[1].State != PeerLeft {
		t.Errorf("Peers() = %+v, want both left", got)
	}
}

func TestCloseClosesEventsAndRefusesCalls(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	n.Send("before")
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !link.Closed() {
		t.Error("Close did not close the link")
	}
	if _, ok := nextEvent(t, n).(Sent); !ok {
		t.Error("the Sent event did not survive Close")
	}
	if ev, ok := <-n.Events(); ok {
		t.Errorf("event %#v after Close, want Events closed", ev)
	}
	if _, err := n.Send("after"); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := n.Connect(carol); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close = %v, want ErrClosed", err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestLeaveSaysGoodbyeEvenAfterCtxEnded(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C
	if err := n.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	deadline, ctxErr := link.CloseContext()
	if ctxErr != nil || deadline.IsZero() || time.Until(deadline) > LeaveTimeout {
		t.Errorf("link closed with ctx error %v and deadline %v; want a live ctx ending within %v",
			ctxErr, deadline, LeaveTimeout)
	}
}

// A UI that stops reading must not hang Close, even with the link's
// goroutine blocked handing it an event.
func TestCloseDoesNotWaitForAReaderThatStopped(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	n.PeerUp(bob)
	n.Receive(bob, chatPayload(t, wire.ChatHello, "bob", "")) // only a peer that joined comes and goes
	if ev, ok := nextEvent(t, n).(Joined); !ok {
		t.Fatalf("event %#v, want bob joining", ev)
	}
	flip := func(i int) {
		if i%2 == 0 {
			n.PeerUnreachable(bob)
		} else {
			n.PeerReachable(bob)
		}
	}
	for i := range eventBuffer { // fills Events
		flip(i)
	}
	const more = 10
	blocked := make(chan struct{})
	go func() {
		defer close(blocked)
		for i := range more {
			flip(eventBuffer + i) // the first waits for a reader
		}
	}()
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-blocked
	got := 0
	for range n.Events() {
		got++
	}
	if dropped := n.Stats().EventsDropped; got != eventBuffer || dropped != more {
		t.Errorf("%d events delivered and %d dropped, want %d and %d", got, dropped, eventBuffer, more)
	}
}

// Delivered may be reported by the link's goroutine before Send has handed
// out its Sent events; Events must still show each Sent before its Delivered.
func TestEventsKeepTheOrderOfWhatHappened(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	const count = 300
	// Buffered: a link's Send never waits for its own goroutine.
	acks := make(chan uint64, count)
	link.OnSend(func(s linktest.Send) { acks <- s.Ref })
	var wg sync.WaitGroup
	wg.Go(func() {
		for ref := range acks {
			n.Delivered(bob, ref) // the "link goroutine"
		}
	})
	seen := make(map[MessageID]bool)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 * count {
			switch ev := nextEvent(t, n).(type) {
			case Sent:
				seen[ev.ID] = true
			case Delivered:
				if !seen[ev.ID] {
					t.Errorf("Delivered %s before its Sent", ev.ID)
				}
			}
		}
	}()
	for i := range count {
		if _, err := n.Send(strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	close(acks)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPlainMode(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice", Plain: true})

	n.Receive(bob, []byte("bob:hi: there\r\n"))
	n.Receive(bob, []byte("bob:/me waves"))
	n.Receive(bob, []byte("no name"))
	n.Receive(bob, []byte("robert:x"))
	n.Receive(carol, []byte("hello\n"))
	n.Receive(carol, []byte("again\n"))
	wantEvents(t, n,
		Joined{Peer: bob, Name: "bob"},
		Message{From: bob, Name: "bob", Text: "hi: there"},
		Message{From: bob, Name: "bob", Text: "waves", Action: true},
		Message{From: bob, Name: bob.String() + " (no name)", Text: "no name"},
		Renamed{Peer: bob, OldName: "bob", Name: "robert"},
		Message{From: bob, Name: "robert", Text: "x"},
		Joined{Peer: carol, Name: carol.String()},
		Message{From: carol, Name: carol.String() + " (no name)", Text: "hello"},
		Message{From: carol, Name: carol.String() + " (no name)", Text: "again"},
	)

	if _, err := n.Send("hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SendAction("waves"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range link.Take() {
		got = append(got, s.Peer.String()+" "+string(s.Msg))
	}
	want := []string{
		bob.String() + " alice:hello", carol.String() + " alice:hello",
		bob.String() + " alice:/me waves", carol.String() + " alice:/me waves",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("datagrams %q, want %q", got, want)
	}
	if u := n.Undelivered(); len(u) != 0 {
		t.Errorf("Undelivered = %+v; plain mode never waits", u)
	}
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Errorf("WaitDelivered: %v", err)
	}
	if _, err := n.Send(strings.Repeat("x", wire.DefaultPlainMax)); !errors.Is(err, wire.ErrTooBig) {
		t.Errorf("Send of a message over one datagram = %v, want wire.ErrTooBig", err)
	}
	if err := n.SetName("alicia"); err != nil || len(link.Take()) != 0 {
		t.Errorf("plain SetName: err %v or it sent something", err)
	}
}
