package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// t0 is when the tests' messages were said; each message n is at t0+n s.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func testID(n int) [16]byte {
	var id [16]byte
	id[0] = 0xAA
	id[14], id[15] = byte(n>>8), byte(n)
	return id
}

func testMessage(peer string, id [16]byte, text string) Message {
	return Message{ID: id, Peer: peer, Kind: 2, Name: "name of " + peer, Text: text, At: t0}
}

// openT opens a store on dir, closed when the test ends, with a clock
// that says t0+1h.
func openT(t testing.TB, dir string) *MessageDB {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(time.Hour) }
	t.Cleanup(func() { s.Close() })
	return s
}

func texts(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// sameMessage reports how got differs from want, or "".
func sameMessage(got, want Message) string {
	if got.ID != want.ID || got.Peer != want.Peer || got.Direction != want.Direction ||
		got.Kind != want.Kind || got.Name != want.Name || got.Text != want.Text ||
		!got.At.Equal(want.At) || got.State != want.State || !got.DeliveredAt.Equal(want.DeliveredAt) {
		return fmt.Sprintf("got  %+v\nwant %+v", got, want)
	}
	return ""
}

func TestOutgoingRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	var want []Message
	for i, peer := range []string{"127.0.0.1:9002", "[::1]:9003", "127.0.0.1:9002"} {
		m := testMessage(peer, testID(i), fmt.Sprintf("hello %d ünïcode ✓", i))
		m.Kind = 2 + i%2
		m.At = t0.Add(time.Duration(i) * time.Second)
		m.State = Delivered // ignored
		if err := s.AddOutgoing(ctx, m); err != nil {
			t.Fatal(err)
		}
		m.State = Pending
		want = append(want, m)
	}
	got, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Pending: %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if d := sameMessage(got[i], want[i]); d != "" {
			t.Errorf("Pending[%d]:\n%s", i, d)
		}
	}

	if err := s.MarkDelivered(ctx, want[1].Peer, want[1].ID); err != nil {
		t.Fatal(err)
	}
	deliveredAt := s.now()
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	// A repeated acknowledgement changes nothing.
	if err := s.MarkDelivered(ctx, want[1].Peer, want[1].ID); err != nil {
		t.Fatalf("second MarkDelivered: %v", err)
	}
	want[1].State, want[1].DeliveredAt = Delivered, deliveredAt

	got, err = s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(got), []string{want[0].Text, want[2].Text}) {
		t.Errorf("Pending after MarkDelivered: %q", texts(got))
	}
	all, err := s.History(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("History: %d messages, want %d", len(all), len(want))
	}
	for i := range all {
		if d := sameMessage(all[i], want[i]); d != "" {
			t.Errorf("History[%d]:\n%s", i, d)
		}
	}

	// The same ID is another message to another peer, the same one to
	// the same peer.
	if err := s.AddOutgoing(ctx, testMessage("elsewhere:1", want[0].ID, "x")); err != nil {
		t.Errorf("same ID, other peer: %v", err)
	}
	if err := s.AddOutgoing(ctx, want[0]); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same ID, same peer: %v, want ErrDuplicate", err)
	}
	if err := s.MarkDelivered(ctx, want[0].Peer, testID(999)); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDelivered of an unknown message: %v, want ErrNotFound", err)
	}
	if err := s.AddOutgoing(ctx, Message{ID: testID(1000)}); err == nil {
		t.Error("AddOutgoing without a peer succeeded")
	}
}

func TestCancel(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const peer = "127.0.0.1:9002"
	for i := range 3 {
		if err := s.AddOutgoing(ctx, testMessage(peer, testID(i), fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddIncoming(ctx, testMessage(peer, testID(7), "theirs")); err != nil {
		t.Fatal(err)
	}
	if err := s.Cancel(ctx, peer, testID(1)); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(pending), []string{"m0", "m2"}) {
		t.Errorf("Pending after Cancel: %q", texts(pending))
	}
	if err := s.Cancel(ctx, peer, testID(1)); !errors.Is(err, ErrNotPending) || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("Cancel twice: %v, want ErrNotPending saying cancelled", err)
	}
	if err := s.MarkDelivered(ctx, peer, testID(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Cancel(ctx, peer, testID(2)); !errors.Is(err, ErrNotPending) || !strings.Contains(err.Error(), "delivered") {
		t.Errorf("Cancel of a delivered message: %v, want ErrNotPending saying delivered", err)
	}
	if err := s.Cancel(ctx, peer, testID(99)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel of an unknown message: %v, want ErrNotFound", err)
	}
	if err := s.Cancel(ctx, peer, testID(7)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel of an incoming message: %v, want ErrNotFound", err)
	}
	// The acknowledgement of a message cancelled too late wins: the peer
	// has it.
	if err := s.MarkDelivered(ctx, peer, testID(1)); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	var states []State
	for _, m := range h {
		states = append(states, m.State)
	}
	if want := []State{Pending, Delivered, Delivered, Received}; !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
}

func TestAddIncomingIdempotent(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	m := testMessage("127.0.0.1:9002", testID(1), "once")
	m.Direction, m.State = Outgoing, Pending // ignored
	isNew, err := s.AddIncoming(ctx, m)
	if err != nil || !isNew {
		t.Fatalf("first AddIncoming: %v, %v; want true, nil", isNew, err)
	}
	again := m
	again.Text, again.At = "changed", t0.Add(time.Minute)
	isNew, err = s.AddIncoming(ctx, again)
	if err != nil || isNew {
		t.Fatalf("retransmission: %v, %v; want false, nil", isNew, err)
	}
	other := m
	other.Peer = "127.0.0.1:9003"
	if isNew, err := s.AddIncoming(ctx, other); err != nil || !isNew {
		t.Fatalf("same ID from another peer: %v, %v; want true, nil", isNew, err)
	}
	h, err := s.History(ctx, Query{Peers: []string{m.Peer}})
	if err != nil {
		t.Fatal(err)
	}
	m.Direction, m.State = Incoming, Received
	if len(h) != 1 {
		t.Fatalf("History: %d messages, want 1", len(h))
	}
	if d := sameMessage(h[0], m); d != "" {
		t.Error(d)
	}
	if p, err := s.Pending(ctx); err != nil || len(p) != 0 {
		t.Errorf("Pending: %v, %v; incoming messages are never pending", p, err)
	}
	// A zero At is now.
	zero := testMessage("z:1", testID(2), "when?")
	zero.At = time.Time{}
	if _, err := s.AddIncoming(ctx, zero); err != nil {
		t.Fatal(err)
	}
	if h, err := s.History(ctx, Query{Peers: []string{"z:1"}}); err != nil || len(h) != 1 || !h[0].At.Equal(s.now()) {
		t.Errorf("zero At: %v, %v; want At %v", h, err, s.now())
	}
}

// TestPendingAfterReopen is a restart: the outbox is exactly what was
// neither delivered nor cancelled, in the order it was written.
func TestPendingAfterReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	peers := []string{"a:1", "b:2", "c:3"}
	var want []string
	for i := range 30 {
		peer := peers[i%len(peers)]
		m := testMessage(peer, testID(i), fmt.Sprintf("%s #%d", peer, i))
		if err := s.AddOutgoing(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddIncoming(ctx, testMessage(peer, testID(i), "reply")); err != nil {
			t.Fatal(err)
		}
		switch i % 5 {
		case 1:
			err = s.MarkDelivered(ctx, peer, m.ID)
		case 3:
			err = s.Cancel(ctx, peer, m.ID)
		default:
			want = append(want, m.Text)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = openT(t, dir)
	got, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(got), want) {
		t.Errorf("Pending after reopen:\n got %q\nwant %q", texts(got), want)
	}
}

func TestSearch(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	said := []string{
		0:  "Hello world",
		1:  "I don't know",
		2:  "I do know",
		3:  `she said "quote me" and left`,
		4:  "École normale, GRÜSSE aus München",
		5:  "Привет, мир",
		6:  "read the docs AND the code OR NOT",
		7:  "price: 100% (50_50) off\\on",
		8:  "party 🎉 tonight",
		9:  "e-mail bob@example.com about the e2e tests",
		10: "你好 世界",
		11: "NEAR the end*",
		12: "categorical", // "cat" is a prefix of a word here…
		13: "the cat sat", // …and a word here
	}
	for i, text := range said {
		peer := "a:1"
		if i%2 == 1 {
			peer = "b:2"
		}
		if _, err := s.AddIncoming(ctx, testMessage(peer, testID(i), text)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		search string
		want   []int
	}{
		{"hello", []int{0}},
		{"HELLO", []int{0}},
		{"hel", []int{0}},
		{"world hello", []int{0}},
		{"hello nobody", nil},
		{"don't", []int{1}},
		{"know", []int{1, 2}},
		{`"quote me"`, []int{3}},
		{`quote"`, []int{3}},
		{`"`, []int{3}},
		{`""`, nil},
		{"école", []int{4}},
		{"ecole", []int{4}},
		{"ÉCOLE", []int{4}},
		{"grüsse", []int{4}},
		{"münchen", []int{4}},
		{"привет", []int{5}},
		{"МИР", []int{5}},
		{"AND", []int{3, 6}},
		{"or not", []int{6}},
		{"NOT", []int{6}},
		{"AND OR", []int{6}},
		{"100%", []int{7}},
		{"%", []int{7}},
		{"_", []int{7}},
		{`\`, []int{7}},
		{"(50_50)", []int{7}},
		{"🎉", []int{8}},
		{"bob@example.com", []int{9}},
		{"e-mail", []int{9}},
		{"e2e", []int{9}},
		{"你好", []int{10}},
		{"世界", []int{10}},
		{"NEAR", []int{11}},
		{"end*", []int{11}},
		{"*", []int{11}},
		{"NEAR(the", []int{11}},
		{"cat", []int{12, 13}},
		{"sat cat", []int{13}},
		{"text:hello", nil},
		{"^hello", []int{0}},
		{"-", []int{9}},
		{"   ", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}}, // no search
		{"nothing-like-it", nil},
	} {
		got, err := s.History(ctx, Query{Search: tc.search})
		if err != nil {
			t.Errorf("search %q: %v", tc.search, err)
			continue
		}
		var want []string
		for _, i := range tc.want {
			want = append(want, said[i])
		}
		if !slices.Equal(texts(got), want) {
			t.Errorf("search %q:\n got %q\nwant %q", tc.search, texts(got), want)
		}
	}
	// With a peer.
	got, err := s.History(ctx, Query{Search: "know", Peers: []string{"a:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(got), []string{said[2]}) {
		t.Errorf("search know with peer a:1: %q", texts(got))
	}
}

func TestFTSQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", `"hello"*`},
		{" two  words ", `"two"* "words"*`},
		{`say "hi"`, `"say"* """hi"""*`},
		{"AND OR NOT", `"AND"* "OR"* "NOT"*`},
		{"?! hello :)", `"hello"*`},
		{"?!", ""},
		{"", ""},
	} {
		if got := ftsQuery(tc.in); got != tc.want {
			t.Errorf("ftsQuery(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestHistorySinceLimit(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const n = DefaultLimit + 5
	for i := range n {
		m := testMessage("a:1", testID(i), fmt.Sprint("message ", i))
		if i%2 == 1 {
			m.Peer = "b:2"
		}
		m.At = t0.Add(time.Duration(i) * time.Second)
		if _, err := s.AddIncoming(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	want := func(from, to, step int) []string {
		var out []string
		for i := from; i < to; i += step {
			out = append(out, fmt.Sprint("message ", i))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"default limit", Query{}, want(5, n, 1)},
		{"limit", Query{Limit: 3}, want(n-3, n, 1)},
		{"negative limit", Query{Limit: -1}, want(5, n, 1)},
		{"since", Query{Since: t0.Add((n - 4) * time.Second)}, want(n-4, n, 1)},
		{"since, exactly", Query{Since: t0.Add(10*time.Second + 1)}, want(11, n, 1)},
		{"since and limit", Query{Since: t0.Add(10 * time.Second), Limit: 2}, want(n-2, n, 1)},
		{"peer", Query{Peers: []string{"b:2"}, Limit: 3}, want(n-6, n, 2)},
		{"peer and since", Query{Peers: []string{"a:1"}, Since: t0.Add((n - 5) * time.Second)}, want(n-5, n, 2)},
		{"two peers", Query{Peers: []string{"a:1", "b:2"}, Limit: 3}, want(n-3, n, 1)},
		{"a peer and an unknown one", Query{Peers: []string{"c:3", "b:2"}, Limit: 3}, want(n-6, n, 2)},
		{"two peers and search", Query{Peers: []string{"b:2", "a:1"}, Search: "message", Limit: 2}, want(n-2, n, 1)},
		{"search and limit", Query{Search: "message", Limit: 2}, want(n-2, n, 1)},
		{"search and since", Query{Search: "message", Since: t0.Add((n - 2) * time.Second)}, want(n-2, n, 1)},
		{"unknown peer", Query{Peers: []string{"c:3"}}, nil},
	} {
		got, err := s.History(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(texts(got), tc.want) {
			t.Errorf("%s: got %d messages %q…, want %d %q…", tc.name, len(got), texts(got)[:min(3, len(got))], len(tc.want), tc.want[:min(3, len(tc.want))])
		}
	}
}

// TestPeersNamed: the peers that sent us messages under a name, each once,
// matched exactly (case included); our own messages, which carry our name,
// and other names do not count.
func TestPeersNamed(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	add := func(peer, name string, i int) {
		t.Helper()
		m := testMessage(peer, testID(i), fmt.Sprint("message ", i))
		m.Name = name
		if _, err := s.AddIncoming(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	add("b:2", "bob", 1)
	add("b:2", "bob", 2)
	add("a:1", "bob", 3) // bob again, from another address
	add("c:3", "carol", 4)
	add("d:4", "Bob", 5)  // another name: names are case-sensitive
	add("e:5", "bob ", 6) // and compared whole
	sent := testMessage("f:6", testID(7), "from us")
	sent.Name = "bob" // our name, on a message we sent to f:6
	if err := s.AddOutgoing(ctx, sent); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"bob", []string{"a:1", "b:2"}},
		{"carol", []string{"c:3"}},
		{"Bob", []string{"d:4"}},
		{"BOB", nil},
		{"bo", nil},
		{"dave", nil},
	} {
		got, err := s.PeersNamed(ctx, tc.name)
		if err != nil {
			t.Fatalf("PeersNamed(%q): %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("PeersNamed(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMigrationUpgrade makes a database with each older schema, the first
// one included, then lets Open upgrade it: every row is still there, in
// its state, and searchable.
func TestMigrationUpgrade(t *testing.T) {
	for from := 1; from < schemaVersion; from++ {
		t.Run(fmt.Sprintf("from=%d", from), func(t *testing.T) { testMigrationUpgrade(t, from) })
	}
}

func testMigrationUpgrade(t *testing.T, from int) {
	ctx := t.Context()
	dir := t.TempDir()
	old, err := open(ctx, dir, options{schema: from})
	if err != nil {
		t.Fatal(err)
	}
	if v := userVersion(t, old.db); v != from {
		t.Fatalf("user_version %d, want %d", v, from)
	}
	old.now = func() time.Time { return t0.Add(time.Hour) }
	var want []Message
	for i := range 50 {
		m := testMessage("a:1", testID(i), fmt.Sprintf("old message %d zebra%d", i, i%3))
		m.At = t0.Add(time.Duration(i) * time.Second)
		if i%2 == 0 {
			// Every outgoing state schema 1 has: pending, delivered,
			// cancelled.
			if err := old.AddOutgoing(ctx, m); err != nil {
				t.Fatal(err)
			}
			m.State = Pending
			switch i % 8 {
			case 2:
				if err := old.MarkDelivered(ctx, m.Peer, m.ID); err != nil {
					t.Fatal(err)
				}
				m.State, m.DeliveredAt = Delivered, t0.Add(time.Hour)
			case 6:
				if err := old.Cancel(ctx, m.Peer, m.ID); err != nil {
					t.Fatal(err)
				}
				m.State = Cancelled
			}
		} else {
			// As that schema's udpchat stored it: this one's
			// AddIncoming writes columns added since.
			_, err := old.db.ExecContext(ctx, `INSERT INTO messages (peer, id, direction, kind, name, text, at, state)
				VALUES (?, ?, 1, ?, ?, ?, ?, 3)`, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, m.At.UnixNano())
			if err != nil {
				t.Fatal(err)
			}
			m.Direction, m.State = Incoming, Received
		}
		want = append(want, m)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openT(t, dir)
	if v := userVersion(t, s.db); v != schemaVersion {
		t.Fatalf("user_version %d after Open, want %d", v, schemaVersion)
	}
	got, err := s.History(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages after upgrade, want %d", len(got), len(want))
	}
	for i := range got {
		if d := sameMessage(got[i], want[i]); d != "" {
			t.Errorf("message %d:\n%s", i, d)
		}
	}
	found, err := s.History(ctx, Query{Search: "zebra1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 17 {
		t.Errorf("search of the old rows found %d, want 17", len(found))
	}
	// What was received before schema 4 was shown then.
	if unshown, err := s.Unshown(ctx); err != nil || len(unshown) != 0 {
		t.Errorf("Unshown after upgrade: %d, %v; want none", len(unshown), err)
	}
	if pending, err := s.Pending(ctx); err != nil || len(pending) != 13 {
		t.Errorf("Pending after upgrade: %d, %v; want 13", len(pending), err)
	}
	// The outbox still works on the upgraded rows.
	if err := s.MarkDelivered(ctx, "a:1", testID(0)); err != nil {
		t.Errorf("MarkDelivered of an old pending message: %v", err)
	}
	if err := s.Cancel(ctx, "a:1", testID(4)); err != nil {
		t.Errorf("Cancel of an old pending message: %v", err)
	}
	if isNew, err := s.AddIncoming(ctx, testMessage("a:1", testID(1), "a retransmission")); err != nil || isNew {
		t.Errorf("AddIncoming of an old incoming ID: isNew %v, %v; want a duplicate", isNew, err)
	}
	// New rows are indexed too.
	if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(100), "new zebra1")); err != nil {
		t.Fatal(err)
	}
	if found, err := s.History(ctx, Query{Search: "zebra1"}); err != nil || len(found) != 18 {
		t.Errorf("search after a new row: %d, %v; want 18", len(found), err)
	}
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrationsLoad(t *testing.T) {
	if schemaVersion < 2 {
		t.Errorf("schema version %d; the upgrade path needs at least 2", schemaVersion)
	}
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migrations[%d] is version %d", i, m.version)
		}
	}
	for name, files := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"bad name": {"migrations/first.sql": {}},
		"none":     {},
	} {
		if _, err := loadMigrations(files); err == nil {
			t.Errorf("%s: loadMigrations succeeded", name)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openT(t, dir)
	newer := schemaVersion + 1
	if _, err := s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(1), "kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := Open(ctx, dir)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open: %v, want ErrNewerSchema", err)
	}
	path := filepath.Join(dir, DBName)
	wantMsg := fmt.Sprintf("%s was written by a newer udpchat (schema %d, this one knows %d): upgrade udpchat, or use another --data-dir",
		path, newer, schemaVersion)
	if err.Error() != wantMsg {
		t.Errorf("error\n %s\nwant\n %s", err, wantMsg)
	}
	// Nothing was downgraded: the file is as the newer udpchat left it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v := userVersion(t, db); v != newer {
		t.Errorf("user_version %d after the refused Open, want %d", v, newer)
	}
}

func TestCorrupt(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			garbage := []byte(strings.Repeat("this is not a database\n", 400))
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"another program's database", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
				t.Fatal(err)
			}
		}},
		{"damaged pages", func(t *testing.T, path string) {
			s, err := Open(ctx, filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 500 {
				if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(i), strings.Repeat("x", 200))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Keep the header, wreck everything after page 1, where the
			// schema lives.
			for i := 100; i < len(b); i++ {
				b[i] = byte(i * 7)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DBName)
			tc.make(t, path)
			_, err := Open(ctx, dir)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			for _, want := range []string{path + " is not a udpchat database or is damaged", "PRAGMA integrity_check", "restore it from a backup", "move it aside", "new history"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// The failed Open released the lock: with the file moved
			// aside, udpchat starts a new history.
			if err := os.Rename(path, path+".damaged"); err != nil {
				t.Fatal(err)
			}
			os.Remove(path + "-wal")
			os.Remove(path + "-shm")
			s := openT(t, dir)
			if h, err := s.History(ctx, Query{}); err != nil || len(h) != 0 {
				t.Errorf("new history: %d messages, %v", len(h), err)
			}
		})
	}
}

func TestLockedInProcess(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dir)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("another udpchat (pid %d) is using %s; stop it or use another --data-dir", os.Getpid(), dir)
	if err.Error() != want {
		t.Errorf("error\n %s\nwant\n %s", err, want)
	}
	// A relative path to the same dir is the same dir.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(wd, dir); err == nil {
		if _, err := Open(ctx, rel); !errors.Is(err, ErrLocked) {
			t.Errorf("Open(%s): %v, want ErrLocked", rel, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openT(t, dir)
}

func TestLockedByAnotherProcess(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, end := range []string{"exit", "kill -9"} {
		t.Run(end, func(t *testing.T) {
			cmd := child(t, "hold", dir)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			ready := make([]byte, len("ready\n"))
			if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
				t.Fatalf("child said %q, %v", ready, err)
			}

			_, err = Open(ctx, dir)
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("Open beside a child holding %s: %v, want ErrLocked", dir, err)
			}
			if want := fmt.Sprintf("another udpchat (pid %d) is using %s", cmd.Process.Pid, dir); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}

			if end == "exit" {
				stdin.Close()
			} else {
				cmd.Process.Kill()
			}
			cmd.Wait()
			// The lock died with its holder, however it ended.
			s, err := Open(ctx, dir)
			if err != nil {
				t.Fatalf("Open after the child ended (%s): %v", end, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBusy: a database another program holds locked for writing (here a
// second connection, as the sqlite3 shell would after BEGIN IMMEDIATE)
// fails Open, once the busy timeout passes, with one line that names the
// file and says what to do.
func TestBusy(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openT(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DBName)
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	const timeout = 200 * time.Millisecond
	start := time.Now()
	_, err = open(ctx, dir, options{busyTimeout: timeout})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Open beside a write transaction: %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < timeout {
		t.Errorf("Open gave up after %v, before the busy timeout (%v)", waited, timeout)
	}
	if want := "another program has " + path + " locked; close it (or use another --data-dir)"; err.Error() != want {
		t.Errorf("error\n %s\nwant\n %s", err, want)
	}

	// Once the other program lets go, the data dir is usable: the failed
	// Open released its lock.
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	openT(t, dir)
}

// TestPragmas checks the settings durability rests on, as the connection
// has them.
func TestPragmas(t *testing.T) {
	s := openT(t, t.TempDir())
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "5000",
	} {
		var got string
		if err := s.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if s.Path() != filepath.Join(s.dir, DBName) || !filepath.IsAbs(s.Path()) {
		t.Errorf("Path() = %s", s.Path())
	}
}

// TestOddDataDir: a data dir whose name means something in a URI is used
// as named.
func TestOddDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with=odd&chars#%20 and ünïcode")
	s := openT(t, dir)
	if _, err := s.AddIncoming(t.Context(), testMessage("a:1", testID(1), "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBName)); err != nil {
		t.Errorf("the database is not where it was asked to be: %v", err)
	}
}

// TestUnshown: a received message is unshown until MarkShown, across a
// reopen, and Unshown lists them oldest first; a retransmission of one
// already stored does not make it unshown again, nor does it list ours.
func TestUnshown(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openT(t, dir)
	for i, peer := range []string{"a:1", "b:2", "a:1", "b:2"} {
		if _, err := s.AddIncoming(ctx, testMessage(peer, testID(i), fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddOutgoing(ctx, testMessage("a:1", testID(9), "ours")); err != nil {
		t.Fatal(err)
	}
	unshown := func(s *MessageDB, want ...string) {
		t.Helper()
		ms, err := s.Unshown(ctx)
		if got := texts(ms); err != nil || !slices.Equal(got, want) {
			t.Errorf("Unshown: %q, %v; want %q", got, err, want)
		}
	}
	unshown(s, "m0", "m1", "m2", "m3")
	if err := s.MarkShown(ctx, []Key{{"a:1", testID(0)}, {"b:2", testID(1)}, {"b:2", testID(0)}, {"a:1", testID(9)}}); err != nil {
		t.Fatal(err)
	}
	unshown(s, "m2", "m3")
	if _, err := s.AddIncoming(ctx, testMessage("a:1", testID(0), "m0")); err != nil { // sent again
		t.Fatal(err)
	}
	unshown(s, "m2", "m3")
	s.Close()
	s = openT(t, dir)
	unshown(s, "m2", "m3")
	if err := s.MarkShown(ctx, []Key{{"a:1", testID(2)}, {"b:2", testID(3)}}); err != nil {
		t.Fatal(err)
	}
	unshown(s)
}

// TestMarkShownMany: a burst larger than one statement's worth of keys is
// marked whole, and a key of another peer's message with the same ID is
// not one of them.
func TestMarkShownMany(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const n = 2*rowsPerInsert + 7
	var b Burst
	var keys []Key
	for i := range n {
		b.Incoming = append(b.Incoming, testMessage("a:1", testID(i), fmt.Sprint("m", i)))
		keys = append(keys, Key{"a:1", testID(i)})
	}
	b.Incoming = append(b.Incoming, testMessage("b:2", testID(0), "from b"))
	if _, err := s.CommitBurst(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkShown(ctx, keys); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Unshown(ctx)
	if got := texts(ms); err != nil || !slices.Equal(got, []string{"from b"}) {
		t.Errorf("Unshown after marking %d of a:1's: %q, %v; want only b:2's", n, got, err)
	}
}
