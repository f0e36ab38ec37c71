package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// syncingLink is a fake link that, like the transport, calls Sync after
// each burst: here the test does.
type syncingLink struct{ *linktest.Link }

func (syncingLink) CallsSync() {}

var _ link.SyncingLink = syncingLink{}

// countingStore counts the commits of incoming messages and deliveries.
type countingStore struct {
	*testStore
	bursts, single atomic.Int64
}

func (s *countingStore) CommitBurst(ctx context.Context, b store.Burst) (store.BurstResult, error) {
	s.bursts.Add(1)
	return s.testStore.CommitBurst(ctx, b)
}

func (s *countingStore) AddIncoming(ctx context.Context, m store.Message) (bool, error) {
	s.single.Add(1)
	return s.testStore.AddIncoming(ctx, m)
}

func (s *countingStore) MarkDelivered(ctx context.Context, peer string, id [16]byte) error {
	s.single.Add(1)
	return s.testStore.MarkDelivered(ctx, peer, id)
}

func newSyncingNode(t *testing.T, s *countingStore) (*Node, *linktest.Link) {
	t.Helper()
	l := linktest.New(ourAddr)
	n, err := New(Config{Name: "alice", Store: s}, func(h link.Handler) (link.Link, error) {
		if _, err := l.Open(h); err != nil {
			return nil, err
		}
		return syncingLink{l}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, l
}

func textFrom(t *testing.T, name, text string) []byte {
	t.Helper()
	msg, err := wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatText, ID: newID(), Name: name, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func storedTexts(t *testing.T, s *countingStore) []string {
	t.Helper()
	ms, err := s.History(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range ms {
		texts = append(texts, m.Text)
	}
	return texts
}

// TestBurstIsOneCommit: on a link that calls Sync, what a burst brings is
// neither stored nor shown before Sync, which stores all of it in one
// commit and then shows it in order; a message sent again is not shown
// twice; a lone message is a burst of one, stored and shown at its Sync.
func TestBurstIsOneCommit(t *testing.T) {
	s := &countingStore{testStore: openTestStore(t, t.TempDir())}
	n, _ := newSyncingNode(t, s)
	var burst [][]byte
	var want []Event
	want = append(want, Joined{Peer: bob, Name: "bob"})
	for i := range 50 {
		text := fmt.Sprintf("line %d", i)
		burst = append(burst, textFrom(t, "bob", text))
		want = append(want, Message{From: bob, Name: "bob", Text: text})
	}
	for _, m := range burst {
		if err := n.Receive(bob, m); err != nil {
			t.Fatal(err)
		}
	}
	wantEvents(t, n) // nothing shown before it is stored
	if got := storedTexts(t, s); len(got) != 0 {
		t.Fatalf("stored before Sync: %q", got)
	}
	if err := n.Sync(); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, want...)
	if b, one := s.bursts.Load(), s.single.Load(); b != 1 || one != 0 {
		t.Errorf("50 messages took %d burst commits and %d single ones, want 1 and 0", b, one)
	}

	// Sent again (the ACK was lost), with one new: only the new one shows.
	lone := textFrom(t, "bob", "lone")
	for _, m := range append(burst, lone) {
		if err := n.Receive(bob, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Sync(); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Message{From: bob, Name: "bob", Text: "lone"})
	if got := storedTexts(t, s); len(got) != 51 || got[50] != "lone" {
		t.Errorf("stored %d messages, last %q; want 51, each once", len(got), got[len(got)-1])
	}
	if st := n.Stats(); st.Duplicates != 50 {
		t.Errorf("Duplicates = %d, want 50", st.Duplicates)
	}
}

// TestBurstFailedCommitStoresNone: a burst whose commit fails stores and
// shows nothing, Sync says so (the link then tells the peer nothing was
// consumed), the user hears it once; a later Sync stores the same burst.
func TestBurstFailedCommitStoresNone(t *testing.T) {
	s := &countingStore{testStore: openTestStore(t, t.TempDir())}
	n, _ := newSyncingNode(t, s)
	s.setFail(errors.New("disk full"))
	for _, text := range []string{"one", "two"} {
		if err := n.Receive(bob, textFrom(t, "bob", text)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := n.Sync(); err == nil {
			t.Fatal("Sync succeeded on a failing store")
		}
	}
	if ev, ok := nextEvent(t, n).(Error); !ok {
		t.Fatalf("got %#v, want one Error", ev)
	}
	wantEvents(t, n) // once, and nothing shown
	if got := storedTexts(t, s); len(got) != 0 {
		t.Fatalf("stored by a failed burst: %q", got)
	}
	s.setFail(nil)
	if err := n.Sync(); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, StoreRecovered{}, Joined{Peer: bob, Name: "bob"},
		Message{From: bob, Name: "bob", Text: "one"}, Message{From: bob, Name: "bob", Text: "two"})
	if got := storedTexts(t, s); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("stored %q", got)
	}
}

// TestBurstOfDeliveries: acknowledgements that come together are marked
// in one commit, and seen (Delivered, WaitDelivered) only after it.
func TestBurstOfDeliveries(t *testing.T) {
	s := &countingStore{testStore: openTestStore(t, t.TempDir())}
	n, l := newSyncingNode(t, s)
	if err := n.Connect(bob); err != nil {
		t.Fatal(err)
	}
	n.PeerUp(bob)
	l.Take()
	var ids []MessageID
	for i := range 3 {
		sent, err := n.Send(fmt.Sprint("to bob ", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sent[0].ID)
		nextEvent(t, n) // Sent
	}
	s.bursts.Store(0) // the sends' commits
	for _, f := range l.Take() {
		n.Delivered(f.Peer, f.Ref)
	}
	wantEvents(t, n) // not yet
	if p, err := s.Pending(context.Background()); err != nil || len(p) != 3 {
		t.Fatalf("pending before Sync: %d, %v; want 3", len(p), err)
	}
	if err := n.Sync(); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, n, Delivered{ID: ids[0], To: bob}, Delivered{ID: ids[1], To: bob}, Delivered{ID: ids[2], To: bob})
	if p, err := s.Pending(context.Background()); err != nil || len(p) != 0 {
		t.Errorf("pending after Sync: %d, %v; want none", len(p), err)
	}
	if b, one := s.bursts.Load(), s.single.Load(); b != 1 || one != 0 {
		t.Errorf("3 deliveries took %d burst commits and %d single ones, want 1 and 0", b, one)
	}
}

// TestSendLinesIsOneCommit: lines that came together are in the outbox in
// one commit before any goes to the link, and go in order; a lone line is
// stored and sent at once.
func TestSendLinesIsOneCommit(t *testing.T) {
	s := &countingStore{testStore: openTestStore(t, t.TempDir())}
	n, l := newSyncingNode(t, s)
	for _, p := range []netip.AddrPort{bob, carol} {
		if err := n.Connect(p); err != nil {
			t.Fatal(err)
		}
		n.PeerUp(p)
	}
	l.Take()
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprint("line ", i))
	}
	l.OnSend(func(f linktest.Send) {
		if p, err := s.Pending(context.Background()); err != nil || len(p) != 2*len(lines) {
			t.Errorf("a line went to the link with %d in the outbox (%v), want all %d", len(p), err, 2*len(lines))
		}
	})
	for i, r := range n.SendLines(lines) {
		if r.Err != nil || len(r.Sent) != 2 {
			t.Fatalf("line %d: sent %d, %v", i, len(r.Sent), r.Err)
		}
	}
	if b := s.bursts.Load(); b != 1 {
		t.Errorf("40 lines to 2 peers took %d commits, want 1", b)
	}
	var got []string
	for _, f := range l.Take() {
		if f.Peer == bob {
			got = append(got, parseSend(t, f).Text)
		}
	}
	if !slices.Equal(got, lines) {
		t.Errorf("bob was sent %q, want the lines in order", got)
	}
	for range 2 * len(lines) {
		if _, ok := nextEvent(t, n).(Sent); !ok {
			t.Fatal("want a Sent event for each line and peer")
		}
	}
	l.OnSend(func(linktest.Send) {})
	if _, err := n.Send("lone"); err != nil {
		t.Fatal(err)
	}
	if b, sent := s.bursts.Load(), len(l.Take()); b != 2 || sent != 2 {
		t.Errorf("a lone line: %d commits in all, sent to %d peers; want 2 and 2", b, sent)
	}
}
