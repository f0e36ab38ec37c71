package store

import (
	"errors"
	"slices"
	"testing"
)

// A burst is stored whole: new messages are told from retransmissions, and
// a delivery that names no message of ours is reported without undoing the
// rest.
func TestCommitBurst(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const bob = "127.0.0.1:9002"
	if err := s.AddOutgoing(ctx, testMessage(bob, testID(100), "to bob")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddIncoming(ctx, testMessage(bob, testID(2), "two")); err != nil {
		t.Fatal(err)
	}
	toCarol := testMessage("127.0.0.1:9003", testID(200), "to carol, by key")
	toCarol.Person = [32]byte{7}
	if err := s.AddOutgoing(ctx, toCarol); err != nil {
		t.Fatal(err)
	}
	r, err := s.CommitBurst(ctx, Burst{
		Incoming: []Message{
			testMessage(bob, testID(1), "one"),
			testMessage(bob, testID(2), "two"), // already stored
			testMessage(bob, testID(3), "three"),
			testMessage(bob, testID(1), "one"), // twice in one burst
		},
		Delivered: []Delivery{
			{Peer: bob, ID: testID(100)}, {Peer: bob, ID: testID(101)},
			{Peer: "127.0.0.1:9004", Person: toCarol.Person, ID: testID(200)}, // from another of her addresses
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(r.IsNew, want) {
		t.Errorf("IsNew = %v, want %v", r.IsNew, want)
	}
	if r.DeliveryErrs[0] != nil || !errors.Is(r.DeliveryErrs[1], ErrNotFound) || r.DeliveryErrs[2] != nil {
		t.Errorf("DeliveryErrs = %v, want [nil, ErrNotFound, nil]", r.DeliveryErrs)
	}
	if st, err := s.state(ctx, toCarol.Peer, toCarol.ID); err != nil || st != Delivered {
		t.Errorf("the message to carol's key: %v, %v; want Delivered", st, err)
	}
	h, err := s.History(ctx, Query{Peers: []string{bob}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := texts(h), []string{"to bob", "two", "one", "three"}; !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
	if h[0].State != Delivered {
		t.Errorf("our message is %v, want Delivered", h[0].State)
	}
}

// A burst whose commit fails stores none of it, and the same burst may be
// committed again once the trouble is gone.
func TestCommitBurstAllOrNothing(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const bob = "127.0.0.1:9002"
	if err := s.AddOutgoing(ctx, testMessage(bob, testID(100), "to bob")); err != nil {
		t.Fatal(err)
	}
	// The disk "fails" at the burst's second message.
	if _, err := s.db.ExecContext(ctx, `CREATE TEMP TRIGGER fail BEFORE INSERT ON messages
		WHEN NEW.text = 'second' BEGIN SELECT RAISE(ABORT, 'the disk failed'); END`); err != nil {
		t.Fatal(err)
	}
	b := Burst{
		Incoming:  []Message{testMessage(bob, testID(1), "first"), testMessage(bob, testID(2), "second")},
		Delivered: []Delivery{{Peer: bob, ID: testID(100)}},
	}
	if _, err := s.CommitBurst(ctx, b); err == nil {
		t.Fatal("CommitBurst succeeded on a failing disk")
	}
	h, err := s.History(ctx, Query{Peers: []string{bob}})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(h); !slices.Equal(got, []string{"to bob"}) || h[0].State != Pending {
		t.Fatalf("after a failed burst: %q, ours %v; want only ours, still Pending", got, h[0].State)
	}
	if _, err := s.db.ExecContext(ctx, `DROP TRIGGER fail`); err != nil {
		t.Fatal(err)
	}
	r, err := s.CommitBurst(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.IsNew, []bool{true, true}) || r.DeliveryErrs[0] != nil {
		t.Errorf("the burst again: %+v", r)
	}
}

// Our messages in a burst go to the outbox, or, marked Sent, to the
// history only; an ID used twice for a peer stores none of the burst.
func TestCommitBurstOutgoing(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const bob = "127.0.0.1:9002"
	kept, histOnly := testMessage(bob, testID(1), "kept"), testMessage(bob, testID(2), "history only")
	histOnly.State = Sent
	if _, err := s.CommitBurst(ctx, Burst{Outgoing: []Message{kept, histOnly}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(p); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("pending %q, want only the kept one", got)
	}
	again := []Message{testMessage(bob, testID(3), "new"), testMessage(bob, testID(1), "reused ID")}
	if _, err := s.CommitBurst(ctx, Burst{Outgoing: again}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a reused ID: %v, want ErrDuplicate", err)
	}
	h, err := s.History(ctx, Query{Peers: []string{bob}})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(h); !slices.Equal(got, []string{"kept", "history only"}) {
		t.Errorf("history %q: the failed burst left something", got)
	}
}

// A burst keeps every byte of what it stores: text that is not UTF-8,
// NULs, quotes and backslashes, an empty name, as the statements of one
// message at a time would; and its text is searchable at once.
func TestCommitBurstKeepsBytes(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const bob = "127.0.0.1:9002"
	odd := []string{"caf\xe9 \xff\xfe", "nul\x00inside", `"quoted" \ back\slash ]],[`, "école ✓", ""}
	var b Burst
	for i, text := range odd {
		m := testMessage(bob, testID(i), text)
		m.Name = ""
		b.Incoming = append(b.Incoming, m)
	}
	if _, err := s.CommitBurst(ctx, b); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, Query{Peers: []string{bob}})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(h); !slices.Equal(got, odd) {
		t.Errorf("history %q, want %q", got, odd)
	}
	for _, m := range h {
		if m.Name != "" || m.Peer != bob {
			t.Errorf("message %q: name %q, peer %q; want \"\", %q", m.Text, m.Name, m.Peer, bob)
		}
	}
	found, err := s.History(ctx, Query{Search: "ecole"})
	if got := texts(found); err != nil || !slices.Equal(got, []string{"école ✓"}) {
		t.Errorf("search ecole: %q, %v; want the one message", got, err)
	}
}
