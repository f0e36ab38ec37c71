package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// testStore is a real store, with failures a test can switch on.
type testStore struct {
	*store.MessageDB
	mu   sync.Mutex
	fail error // returned by every write while set
}

func openTestStore(t *testing.T, dir string) *testStore {
	t.Helper()
	s, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testStore{MessageDB: s}
}

func (s *testStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *testStore) failing() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail
}

func (s *testStore) AddOutgoing(ctx context.Context, m store.Message) error {
	if err := s.failing(); err != nil {
		return err
	}
	return s.MessageDB.AddOutgoing(ctx, m)
}

func (s *testStore) CommitBurst(ctx context.Context, b store.Burst) (store.BurstResult, error) {
	if err := s.failing(); err != nil {
		return store.BurstResult{}, err
	}
	return s.MessageDB.CommitBurst(ctx, b)
}

func (s *testStore) AddIncoming(ctx context.Context, m store.Message) (bool, error) {
	if err := s.failing(); err != nil {
		return false, err
	}
	return s.MessageDB.AddIncoming(ctx, m)
}

func (s *testStore) MarkDelivered(ctx context.Context, peer string, id [16]byte) error {
	if err := s.failing(); err != nil {
		return err
	}
	return s.MessageDB.MarkDelivered(ctx, peer, id)
}

// stateOf is the stored state of our message id to peer.
func stateOf(t *testing.T, s *testStore, peer netip.AddrPort, id MessageID) store.State {
	t.Helper()
	ms, err := s.History(context.Background(), store.Query{Peers: []string{PeerKey(peer)}, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Direction == store.Outgoing && m.ID == id {
			return m.State
		}
	}
	t.Fatalf("%s to %s is not stored", id, peer)
	return 0
}

func newStoreNode(t *testing.T, cfg Config) (*Node, *linktest.Link) {
	t.Helper()
	n, link := newFakeNode(t, cfg)
	for _, p := range []netip.AddrPort{bob, carol} {
		if err := n.Connect(p); err != nil {
			t.Fatal(err)
		}
		n.PeerUp(p) // it answered: what we send it is kept in the outbox
	}
	return n, link
}

// TestSendStoresBeforeSending: the outbox rule.
func TestSendStoresBeforeSending(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, link := newStoreNode(t, Config{Name: "alice", Store: s})
	var checked []string
	link.OnSend(func(f linktest.Send) {
		m := parseSend(t, f)
		if m.Kind == wire.ChatHello {
			return
		}
		p, err := s.Pending(context.Background())
		if err != nil {
			t.Error(err)
		}
		if !slices.ContainsFunc(p, func(pm store.Message) bool { return pm.ID == m.ID && pm.Peer == PeerKey(f.Peer) }) {
			t.Errorf("%x went to %s before it was in the outbox", m.ID, f.Peer)
		}
		checked = append(checked, f.Peer.String())
	})
	sent, err := n.Send("hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(checked) != 2 {
		t.Fatalf("checked %v, want both peers", checked)
	}
	id := sent[0].ID
	wantEvents(t, n, Sent{ID: id, To: bob, Text: "hello", Kept: true}, Sent{ID: id, To: carol, Text: "hello", Kept: true})
	ms, err := s.History(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "alice" || ms[0].Text != "hello" || ms[0].Kind != int(wire.ChatText) || ms[0].State != store.Pending {
		t.Errorf("stored %+v", ms)
	}
}

// TestDeliveredIsStoredBeforeItIsSeen: by the time WaitDelivered returns,
// the store says delivered, so a program exiting then sends nothing again.
func TestDeliveredIsStoredBeforeItIsSeen(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, link := newStoreNode(t, Config{Name: "alice", Store: s})
	link.Take()
	sent, err := n.Send("hello")
	if err != nil {
		t.Fatal(err)
	}
	id := sent[0].ID
	sends := link.Take()
	wantEvents(t, n, Sent{ID: id, To: bob, Text: "hello", Kept: true}, Sent{ID: id, To: carol, Text: "hello", Kept: true})
	n.Delivered(bob, sends[0].Ref)
	n.Delivered(carol, sends[1].Ref)
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []netip.AddrPort{bob, carol} {
		if st := stateOf(t, s, p, id); st != store.Delivered {
			t.Errorf("to %s: %v once WaitDelivered returned, want delivered", p, st)
		}
	}
	wantEvents(t, n, Delivered{ID: id, To: bob}, Delivered{ID: id, To: carol})
}

// TestSendNotStoredIsNotSent: a message the outbox cannot hold does not
// go, so nothing a peer has is missing from our history.
func TestSendNotStoredIsNotSent(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, link := newStoreNode(t, Config{Name: "alice", Store: s})
	link.Take()
	s.setFail(errors.New("disk full"))
	sent, err := n.Send("hello")
	if len(sent) != 0 || err == nil {
		t.Fatalf("Send with a failing store: %+v, %v", sent, err)
	}
	if sends := link.Take(); len(sends) != 0 {
		t.Errorf("sent %d payloads with a failing store", len(sends))
	}
	if len(n.Undelivered()) != 0 {
		t.Errorf("Undelivered = %+v", n.Undelivered())
	}
	wantEvents(t, n)
}

// TestNewRequeuesThePending: what an earlier run left pending goes again,
// with its IDs, in its order, as Sent events, and New does not wait for a
// reader however many there are.
func TestNewRequeuesThePending(t *testing.T) {
	dir := t.TempDir()
	const count = eventBuffer + 100
	var ids []MessageID
	func() {
		s := openTestStore(t, dir)
		for i := range count {
			id := newID()
			ids = append(ids, id)
			to := bob
			if i%3 == 0 {
				to = carol
			}
			kind := wire.ChatText
			if i == 1 {
				kind = wire.ChatAction
			}
			m := store.Message{ID: id, Peer: PeerKey(to), Kind: int(kind), Name: "alice", Text: fmt.Sprint("m", i)}
			if err := s.AddOutgoing(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		s.MessageDB.Close()
	}()
	s := openTestStore(t, dir)
	n, link := newFakeNode(t, Config{Name: "alice-renamed", Store: s})
	sends := link.Take()
	if len(sends) != count {
		t.Fatalf("New sent %d payloads, want the %d pending", len(sends), count)
	}
	for i, f := range sends {
		m := parseSend(t, f)
		wantTo := bob
		if i%3 == 0 {
			wantTo = carol
		}
		if f.Peer != wantTo || m.ID != ids[i] || m.Text != fmt.Sprint("m", i) || m.Name != "alice" || (m.Kind == wire.ChatAction) != (i == 1) {
			t.Fatalf("payload %d to %s: %+v", i, f.Peer, m)
		}
	}
	if len(n.Peers()) != 2 {
		t.Errorf("Peers = %+v, want bob and carol", n.Peers())
	}
	for i := range count {
		ev, ok := nextEvent(t, n).(Sent)
		if !ok || ev.ID != ids[i] || ev.Text != fmt.Sprint("m", i) || ev.Action != (i == 1) {
			t.Fatalf("event %d: %#v", i, ev)
		}
	}
	if u := n.Undelivered(); len(u) != count || u[0].ID != ids[0] {
		t.Fatalf("Undelivered: %d, want %d", len(u), count)
	}
	for _, f := range sends {
		n.Delivered(f.Peer, f.Ref)
		nextEvent(t, n)
	}
	if p, err := s.Pending(context.Background()); err != nil || len(p) != 0 {
		t.Errorf("Pending after every delivery: %d, %v", len(p), err)
	}
}

// TestReceiveStoresBeforeShowingAndDedupes: a message is stored before it
// is shown; the same ID again is accepted and not shown; a store that
// fails refuses the message (so the link offers it again) and says so
// once.
func TestReceiveStoresBeforeShowingAndDedupes(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, _ := newFakeNode(t, Config{Name: "alice", Store: s})
	msg, err := wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatText, ID: newID(), Name: "bob", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Receive(bob, msg); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Joined{Peer: bob, Name: "bob"}, Message{From: bob, Name: "bob", Text: "hi"})
	if ms, err := s.History(context.Background(), store.Query{}); err != nil || len(ms) != 1 || ms[0].Direction != store.Incoming || ms[0].Name != "bob" {
		t.Fatalf("stored %+v, %v", ms, err)
	}
	if err := n.Receive(bob, msg); err != nil {
		t.Fatalf("Receive of a stored message: %v", err)
	}
	wantEvents(t, n) // not shown twice
	if st := n.Stats(); st.Duplicates != 1 {
		t.Errorf("Duplicates = %d", st.Duplicates)
	}

	s.setFail(errors.New("disk full"))
	msg2, _ := wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatText, ID: newID(), Name: "bob", Text: "again"})
	for range 3 {
		if err := n.Receive(bob, msg2); err == nil {
			t.Fatal("Receive accepted a message it could not store")
		}
	}
	if ev, ok := nextEvent(t, n).(Error); !ok {
		t.Fatalf("got %#v, want one Error", ev)
	}
	wantEvents(t, n) // once, not once a retry
	s.setFail(nil)
	if err := n.Receive(bob, msg2); err != nil {
		t.Fatal(err)
	}
	// The user, told the store failed, is told it works again.
	wantEvents(t, n, StoreRecovered{}, Message{From: bob, Name: "bob", Text: "again"})
	if st := n.Stats(); st.StoreErrors != 3 {
		t.Errorf("StoreErrors = %d", st.StoreErrors)
	}
}

// TestCancel: a cancelled message stops being waited for and leaves the
// outbox; if the link delivers it after all, the store says so.
func TestCancel(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, link := newStoreNode(t, Config{Name: "alice", Store: s})
	link.Take()
	sent, err := n.Send("take it back")
	if err != nil {
		t.Fatal(err)
	}
	id := sent[0].ID
	sends := link.Take()
	wantEvents(t, n, Sent{ID: id, To: bob, Text: "take it back", Kept: true}, Sent{ID: id, To: carol, Text: "take it back", Kept: true})
	n.Delivered(bob, sends[0].Ref)
	wantEvents(t, n, Delivered{ID: id, To: bob})

	c, err := n.Cancel(id)
	if err != nil || len(c) != 1 || c[0] != (Cancelled{ID: id, To: carol}) {
		t.Fatalf("Cancel: %+v, %v; want carol's only", c, err)
	}
	wantEvents(t, n, Cancelled{ID: id, To: carol})
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := stateOf(t, s, carol, id); st != store.Cancelled {
		t.Errorf("carol's copy is %v, want cancelled", st)
	}
	if st := stateOf(t, s, bob, id); st != store.Delivered {
		t.Errorf("bob's copy is %v, want delivered", st)
	}
	if _, err := n.Cancel(id); !errors.Is(err, ErrNotPending) {
		t.Errorf("second Cancel: %v, want ErrNotPending", err)
	}
	n.Delivered(carol, sends[1].Ref) // it was on its way
	wantEvents(t, n, Delivered{ID: id, To: carol})
	if st := stateOf(t, s, carol, id); st != store.Delivered {
		t.Errorf("carol's copy is %v after all, want delivered", st)
	}
}

// TestCancelWithoutAStore still stops the wait.
func TestCancelWithoutAStore(t *testing.T) {
	n, link := newStoreNode(t, Config{Name: "alice"})
	link.Take()
	sent, err := n.Send("x")
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Sent{ID: sent[0].ID, To: bob, Text: "x"}, Sent{ID: sent[0].ID, To: carol, Text: "x"})
	if c, err := n.Cancel(sent[0].ID); err != nil || len(c) != 2 {
		t.Fatalf("Cancel: %+v, %v", c, err)
	}
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPlainRecordsOnly: plain messages go to the history, never to the
// outbox, and a plain node sends nothing pending again.
func TestPlainRecordsOnly(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if err := s.AddOutgoing(context.Background(), store.Message{ID: newID(), Peer: PeerKey(bob), Kind: 2, Name: "alice", Text: "from a reliable run"}); err != nil {
		t.Fatal(err)
	}
	n, link := newFakeNode(t, Config{Name: "alice", Plain: true, Store: s})
	if sends := link.Take(); len(sends) != 0 {
		t.Fatalf("a plain node sent the outbox: %d payloads", len(sends))
	}
	if err := n.Connect(bob); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send("plain out"); err != nil {
		t.Fatal(err)
	}
	if err := n.Receive(bob, []byte("bob:plain in\n")); err != nil {
		t.Fatal(err)
	}
	ms, err := s.History(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%v %s %s", m.State, m.Name, m.Text))
	}
	want := []string{"pending alice from a reliable run", "sent alice plain out", "received bob plain in"}
	if !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestHistory(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	if ms, err := n.History(context.Background(), HistoryQuery{}); ms != nil || err != nil {
		t.Errorf("History without a store: %v, %v", ms, err)
	}
	s := openTestStore(t, t.TempDir())
	n, _ = newStoreNode(t, Config{Name: "alice", Store: s})
	if _, err := n.Send("remember me"); err != nil {
		t.Fatal(err)
	}
	ms, err := n.History(context.Background(), HistoryQuery{Peers: []netip.AddrPort{carol}})
	if err != nil || len(ms) != 1 || ms[0].Text != "remember me" {
		t.Errorf("History: %+v, %v", ms, err)
	}
}

// Durable is what the UIs ask before telling the user that undelivered
// messages wait for the next start.
func TestDurableNeedsAStoreAndAReliableLink(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want bool
	}{
		{Config{Name: "alice"}, false},
		{Config{Name: "alice", Store: openTestStore(t, t.TempDir())}, true},
		{Config{Name: "alice", Store: openTestStore(t, t.TempDir()), Plain: true}, false},
	} {
		n, _ := newFakeNode(t, c.cfg)
		if got := n.Durable(); got != c.want {
			t.Errorf("Durable() with store %v, plain %v = %v, want %v", c.cfg.Store != nil, c.cfg.Plain, got, c.want)
		}
	}
}

// TestUnshownShownAtNextStart: a message stored and acknowledged, and not
// marked shown (the UI died before writing it out), is the first event of
// the next node on the store, with its ID; once marked, it is not shown
// again. Plain mode keeps the same promise.
func TestUnshownShownAtNextStart(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			n, _ := newFakeNode(t, Config{Name: "alice", Store: s, Plain: plain})
			var payload []byte
			if plain {
				payload = []byte("bob:are you there")
			} else {
				payload, _ = wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatText, ID: newID(), Name: "bob", Text: "are you there"})
			}
			if err := n.Receive(bob, payload); err != nil {
				t.Fatal(err)
			}
			if _, ok := nextEvent(t, n).(Joined); !ok {
				t.Fatal("no Joined first")
			}
			got, ok := nextEvent(t, n).(Message)
			if !ok || got.Text != "are you there" {
				t.Fatalf("got %#v, want bob's message", got)
			}
			n.Close(context.Background()) // killed before the UI wrote it out

			n2, _ := newFakeNode(t, Config{Name: "alice", Store: s, Plain: plain})
			wantEvents(t, n2, Message{ID: got.ID, From: bob, Name: "bob", Text: "are you there"})
			if err := n2.MarkShown(got); err != nil {
				t.Fatal(err)
			}
			n2.Close(context.Background())
			n3, _ := newFakeNode(t, Config{Name: "alice", Store: s, Plain: plain})
			wantEvents(t, n3)
		})
	}
}
