package store

import (
	"fmt"
	"slices"
	"testing"
)

// TestMarkShownOutOfOrder: messages marked shown in another order than
// they were stored stay shown, those not marked stay unshown whatever was
// marked after them, across a reopen, and a message stored after all are
// marked is unshown.
func TestMarkShownOutOfOrder(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openT(t, dir)
	peers := []string{"a:1", "b:2", "a:1", "b:2", "a:1", "b:2"}
	key := func(i int) Key { return Key{peers[i], testID(i)} }
	for i, peer := range peers {
		if _, err := s.AddIncoming(ctx, testMessage(peer, testID(i), fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	unshown := func(s *MessageDB, want ...string) {
		t.Helper()
		ms, err := s.Unshown(ctx)
		if got := texts(ms); err != nil || !slices.Equal(got, want) {
			t.Errorf("Unshown: %q, %v; want %q", got, err, want)
		}
	}
	mark := func(s *MessageDB, is ...int) {
		t.Helper()
		var keys []Key
		for _, i := range is {
			keys = append(keys, key(i))
		}
		if err := s.MarkShown(ctx, keys); err != nil {
			t.Fatal(err)
		}
	}
	mark(s, 3, 4)
	unshown(s, "m0", "m1", "m2", "m5")
	mark(s, 1)
	unshown(s, "m0", "m2", "m5")
	s.Close()
	s = openT(t, dir)
	unshown(s, "m0", "m2", "m5")
	mark(s, 2, 0)
	unshown(s, "m5")
	mark(s, 5, 5)
	unshown(s)
	if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(6), "m6")); err != nil {
		t.Fatal(err)
	}
	unshown(s, "m6")
	mark(s, 4) // shown before
	unshown(s, "m6")
}

// TestShownMarkUpgrade: what a store of schema 10 had not shown is still
// unshown after the upgrade to the shown mark, and nothing else is.
func TestShownMarkUpgrade(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	old, err := open(ctx, dir, options{schema: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, err := old.AddIncoming(ctx, testMessage("a:1", testID(i), fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	// As schema 10's MarkShown flagged them: m0, m1 and m3 shown.
	if _, err := old.db.ExecContext(ctx, `UPDATE messages SET shown = 1 WHERE text IN ('m0', 'm1', 'm3')`); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := openT(t, dir)
	ms, err := s.Unshown(ctx)
	if got, want := texts(ms), []string{"m2", "m4", "m5"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Unshown after the upgrade: %q, %v; want %q", got, err, want)
	}
	if err := s.MarkShown(ctx, []Key{{"a:1", testID(2)}, {"a:1", testID(4)}}); err != nil {
		t.Fatal(err)
	}
	ms, err = s.Unshown(ctx)
	if got, want := texts(ms), []string{"m5"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Unshown after marking m2 and m4: %q, %v; want %q", got, err, want)
	}
}
