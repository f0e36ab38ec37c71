package store

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The statements bench_test.go's fill adds rows with: by address, as
// every schema stores them.
var (
	insertOutgoing = outgoingRow.byAddress
	insertIncoming = incomingRow.byAddress
)

func testKey(n byte) [32]byte {
	var k [32]byte
	k[0], k[31] = 0xCC, n
	return k
}

// A history kept by address (schema 4) moves to people: Open migrates it
// with every row intact and no person, AssignPeople maps the addresses it
// is given keys for, makes them contacts, counts the rest, and runs once.
func TestAssignPeople(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	old, err := open(ctx, dir, options{schema: 4})
	if err != nil {
		t.Fatal(err)
	}
	const alice, aliceToo, bob, stranger = "127.0.0.1:9002", "192.0.2.1:7475", "[::1]:9003", "127.0.0.1:9009"
	add := func(peer string, n int, in bool, name string) {
		t.Helper()
		m := testMessage(peer, testID(n), fmt.Sprint("m", n))
		m.Name, m.At = name, t0.Add(time.Duration(n)*time.Second)
		if in {
			_, err = old.AddIncoming(ctx, m)
		} else {
			err = old.AddOutgoing(ctx, m)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add(alice, 1, true, "alice")
	add(alice, 2, false, "me")
	add(bob, 3, false, "me")
	add(alice, 4, true, "alice2")
	add(stranger, 5, true, "who")
	add(stranger, 6, false, "me")
	add(bob, 7, false, "me")
	add(aliceToo, 1, true, "alice") // m1 again, retransmitted from her other address
	add(aliceToo, 8, true, "alice")
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openT(t, dir)
	if v := userVersion(t, s.db); v != schemaVersion {
		t.Fatalf("user_version %d, want %d", v, schemaVersion)
	}
	all, err := s.History(ctx, Query{})
	if err != nil || len(all) != 9 {
		t.Fatalf("History after the migration: %d messages, %v; want 9", len(all), err)
	}
	for _, m := range all {
		if m.Person != ([32]byte{}) {
			t.Errorf("%s has person %x before the backfill", m.Text, m.Person)
		}
	}

	ka, kb := testKey(1), testKey(2)
	got, err := s.AssignPeople(ctx, map[string][32]byte{alice: ka, aliceToo: ka, bob: kb, "10.0.0.1:1": testKey(3)})
	if err != nil {
		t.Fatal(err)
	}
	want := Backfill{Ran: true, Assigned: 6, Copies: 1, Unmapped: 2, UnmappedPeers: []string{stranger}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AssignPeople = %+v, want %+v", got, want)
	}
	if ms, err := s.History(ctx, Query{People: [][32]byte{ka}}); err != nil || !slices.Equal(texts(ms), []string{"m1", "m2", "m4", "m8"}) {
		t.Errorf("alice's history: %q, %v", texts(ms), err)
	}
	if ms, err := s.History(ctx, Query{Peers: []string{stranger}}); err != nil || !slices.Equal(texts(ms), []string{"m5", "m6"}) {
		t.Errorf("the unmapped history by address: %q, %v", texts(ms), err)
	}
	if ms, err := s.PendingTo(ctx, kb); err != nil || !slices.Equal(texts(ms), []string{"m3", "m7"}) || ms[0].Person != kb {
		t.Errorf("PendingTo(bob): %q, %v", texts(ms), err)
	}
	contacts, err := s.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantContacts := []Contact{
		{Key: kb, Endpoints: []Endpoint{{bob, FromFlag, t0.Add(7 * time.Second)}}, FirstSeen: t0.Add(3 * time.Second), LastSeen: t0.Add(7 * time.Second)},
		{Key: ka, AnnouncedName: "alice", FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(8 * time.Second), Endpoints: []Endpoint{
			{aliceToo, FromPacket, t0.Add(8 * time.Second)}, {alice, FromPacket, t0.Add(4 * time.Second)}}},
	}
	if d := diffContacts(contacts, wantContacts); d != "" {
		t.Error(d)
	}

	// Once only, across a restart too.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	if again, err := s.AssignPeople(ctx, map[string][32]byte{stranger: testKey(9)}); err != nil || again.Ran || again.Assigned != 0 {
		t.Errorf("second AssignPeople = %+v, %v; want it not to run", again, err)
	}
	if ms, err := s.History(ctx, Query{People: [][32]byte{testKey(9)}}); err != nil || len(ms) != 0 {
		t.Errorf("the second run mapped %q, %v", texts(ms), err)
	}
}

// diffContacts says how got differs from want, or "".
func diffContacts(got, want []Contact) string {
	norm := func(cs []Contact) []Contact {
		out := slices.Clone(cs)
		for i := range out {
			out[i].FirstSeen, out[i].LastSeen = out[i].FirstSeen.UTC(), out[i].LastSeen.UTC()
			out[i].Endpoints = slices.Clone(out[i].Endpoints)
			for j := range out[i].Endpoints {
				out[i].Endpoints[j].LastSeen = out[i].Endpoints[j].LastSeen.UTC()
			}
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("contacts:\ngot  %+v\nwant %+v", g, w)
	}
	return ""
}

func TestContacts(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	ka, kb := testKey(1), testKey(2)
	for _, sg := range []Sighting{
		{Key: ka, AnnouncedName: "zed", Address: "127.0.0.1:1", Source: FromDiscovery, At: t0.Add(10 * time.Second)},
		{Key: kb, AnnouncedName: "bob", Address: "127.0.0.1:2", Source: FromFlag, At: t0},
		// Older news: the name and the source stay, the first seen moves back.
		{Key: ka, AnnouncedName: "old name", Address: "127.0.0.1:1", Source: FromRelay, At: t0.Add(5 * time.Second)},
		// Newer, with no name: the name stays.
		{Key: kb, Address: "127.0.0.1:3", Source: FromPacket, At: t0.Add(20 * time.Second)},
	} {
		if err := s.ContactSeen(ctx, sg); err != nil {
			t.Fatal(err)
		}
	}
	zed := Contact{Key: ka, AnnouncedName: "zed", FirstSeen: t0.Add(5 * time.Second), LastSeen: t0.Add(10 * time.Second),
		Endpoints: []Endpoint{{"127.0.0.1:1", FromDiscovery, t0.Add(10 * time.Second)}}}
	bob := Contact{Key: kb, AnnouncedName: "bob", FirstSeen: t0, LastSeen: t0.Add(20 * time.Second),
		Endpoints: []Endpoint{{"127.0.0.1:3", FromPacket, t0.Add(20 * time.Second)}, {"127.0.0.1:2", FromFlag, t0}}}
	all, err := s.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffContacts(all, []Contact{bob, zed}); d != "" {
		t.Error(d)
	}
	if c, err := s.Contact(ctx, ka); err != nil || diffContacts([]Contact{c}, []Contact{zed}) != "" {
		t.Errorf("Contact(zed) = %+v, %v", c, err)
	}
	if _, err := s.Contact(ctx, testKey(9)); !errors.Is(err, ErrNoContact) {
		t.Errorf("Contact of an unknown key: %v, want ErrNoContact", err)
	}

	if err := s.Rename(ctx, ka, "alice"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ContactNamed(ctx, "alice"); err != nil || c.Key != ka || c.Name() != "alice" || c.AnnouncedName != "zed" {
		t.Errorf("ContactNamed(alice) after Rename = %+v, %v", c, err)
	}
	// The given name sorts her first now.
	if all, err := s.Contacts(ctx); err != nil || len(all) != 2 || all[0].Key != ka {
		t.Errorf("Contacts after Rename: %+v, %v; want alice first", all, err)
	}
	if err := s.Rename(ctx, ka, ""); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Contact(ctx, ka); err != nil || c.GivenName != "" || c.Name() != "zed" {
		t.Errorf("after Rename to \"\": %+v, %v; want the announced name back", c, err)
	}
	if err := s.Rename(ctx, testKey(9), "x"); !errors.Is(err, ErrNoContact) {
		t.Errorf("Rename of an unknown key: %v, want ErrNoContact", err)
	}
	if err := s.ContactSeen(ctx, Sighting{Key: ka, Address: "127.0.0.1:4", Source: "carrier pigeon"}); err == nil {
		t.Error("ContactSeen took an unknown source")
	}
}

// A given name comes before an announced one; two contacts of the same
// kind of name are an error that lists both.
func TestContactNamedAmbiguous(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	for i := byte(1); i <= 3; i++ {
		if err := s.ContactSeen(ctx, Sighting{Key: testKey(i), AnnouncedName: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	var amb *AmbiguousNameError
	if _, err := s.ContactNamed(ctx, "bob"); !errors.As(err, &amb) || len(amb.Candidates) != 3 {
		t.Fatalf("ContactNamed of 3 bobs: %v; want an AmbiguousNameError of 3", err)
	}
	if msg := amb.Error(); !strings.Contains(msg, fmt.Sprintf("%x", func() []byte { k := testKey(3); return k[:8] }())) {
		t.Errorf("the error does not list the candidates' keys: %s", msg)
	}
	// Giving two of them names leaves "bob" meaning the third.
	for i, name := range map[byte]string{1: "bob (work)", 2: "bob (home)"} {
		if err := s.Rename(ctx, testKey(i), name); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.ContactNamed(ctx, "bob"); err != nil || c.Key != testKey(3) {
		t.Errorf("ContactNamed(bob) = %x, %v; want the one not renamed", c.Key, err)
	}
	if c, err := s.ContactNamed(ctx, "bob (home)"); err != nil || c.Key != testKey(2) {
		t.Errorf("ContactNamed(bob (home)) = %x, %v", c.Key, err)
	}
	// A given name wins over someone else's announced one.
	if err := s.Rename(ctx, testKey(1), "bob"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ContactNamed(ctx, "bob"); err != nil || c.Key != testKey(1) {
		t.Errorf("ContactNamed(bob) = %x, %v; want the one given that name", c.Key, err)
	}
	if _, err := s.ContactNamed(ctx, "carol"); !errors.Is(err, ErrNoContact) {
		t.Errorf("ContactNamed(carol): %v, want ErrNoContact", err)
	}
}

func TestEndpointsBounded(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	k := testKey(1)
	for i := range MaxEndpoints + 4 {
		sg := Sighting{Key: k, Address: fmt.Sprintf("10.0.0.%d:7475", i), Source: FromPacket, At: t0.Add(time.Duration(i) * time.Second)}
		if err := s.ContactSeen(ctx, sg); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Contact(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, e := range c.Endpoints {
		addrs = append(addrs, e.Address)
	}
	var want []string
	for i := MaxEndpoints + 3; i >= 4; i-- {
		want = append(want, fmt.Sprintf("10.0.0.%d:7475", i))
	}
	if !slices.Equal(addrs, want) {
		t.Errorf("endpoints %q, want the %d newest %q", addrs, MaxEndpoints, want)
	}
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM endpoints`).Scan(&rows); err != nil || rows != MaxEndpoints {
		t.Errorf("%d endpoint rows stored, %v; want %d", rows, err, MaxEndpoints)
	}
}

// Forget drops a person and cancels what waits for them, and only them, in
// one transaction; what was said stays.
func TestForget(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	ka, kb := testKey(1), testKey(2)
	for _, k := range [][32]byte{ka, kb} {
		if err := s.ContactSeen(ctx, Sighting{Key: k, AnnouncedName: "p", Address: "127.0.0.1:1", Source: FromFlag}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	send := func(k [32]byte, text string) Message {
		t.Helper()
		n++
		m := testMessage("127.0.0.1:1", testID(n), text)
		m.Person = k
		if err := s.AddOutgoing(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	delivered := send(ka, "a delivered")
	send(ka, "a pending 1")
	send(kb, "b pending")
	send(ka, "a pending 2")
	if err := s.MarkDelivered(ctx, delivered.Peer, delivered.ID); err != nil {
		t.Fatal(err)
	}

	// A failure part way cancels nothing.
	if _, err := s.db.ExecContext(ctx, `CREATE TEMP TRIGGER no_delete BEFORE DELETE ON contacts BEGIN SELECT RAISE(ABORT, 'test'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forget(ctx, ka); err == nil {
		t.Fatal("Forget succeeded with the delete failing")
	}
	if ms, err := s.PendingTo(ctx, ka); err != nil || len(ms) != 2 {
		t.Fatalf("after a failed Forget, %d pending, %v; want the 2 still", len(ms), err)
	}
	if _, err := s.db.ExecContext(ctx, `DROP TRIGGER no_delete`); err != nil {
		t.Fatal(err)
	}

	cancelled, err := s.Forget(ctx, ka)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(cancelled), []string{"a pending 1", "a pending 2"}) {
		t.Errorf("Forget cancelled %q", texts(cancelled))
	}
	if ms, err := s.Pending(ctx); err != nil || !slices.Equal(texts(ms), []string{"b pending"}) {
		t.Errorf("Pending after Forget: %q, %v", texts(ms), err)
	}
	if _, err := s.Contact(ctx, ka); !errors.Is(err, ErrNoContact) {
		t.Errorf("the forgotten contact: %v, want ErrNoContact", err)
	}
	var endpoints int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM endpoints WHERE key = ?`, ka[:]).Scan(&endpoints); err != nil || endpoints != 0 {
		t.Errorf("%d endpoints left of the forgotten contact, %v", endpoints, err)
	}
	if c, err := s.Contact(ctx, kb); err != nil || len(c.Endpoints) != 1 {
		t.Errorf("the other contact after Forget: %+v, %v", c, err)
	}
	hist, err := s.History(ctx, Query{People: [][32]byte{ka}})
	if err != nil {
		t.Fatal(err)
	}
	var states []State
	for _, m := range hist {
		states = append(states, m.State)
	}
	if !slices.Equal(states, []State{Delivered, Cancelled, Cancelled}) {
		t.Errorf("the forgotten person's history: %v", states)
	}
	if _, err := s.Forget(ctx, ka); !errors.Is(err, ErrNoContact) {
		t.Errorf("Forget again: %v, want ErrNoContact", err)
	}
}

// A message stored with its person gives it back, and both lists filter
// by it.
func TestMessagePerson(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	k := testKey(1)
	in := testMessage("127.0.0.1:1", testID(1), "hi")
	in.Person = k
	if isNew, err := s.AddIncoming(ctx, in); err != nil || !isNew {
		t.Fatal(isNew, err)
	}
	out := testMessage("127.0.0.1:1", testID(2), "by address only")
	if err := s.AddOutgoing(ctx, out); err != nil {
		t.Fatal(err)
	}
	ms, err := s.History(ctx, Query{People: [][32]byte{k}})
	if err != nil || len(ms) != 1 || ms[0].Person != k || ms[0].Text != "hi" {
		t.Errorf("History of the person: %+v, %v", ms, err)
	}
	if n, err := s.Count(ctx, Query{Peers: []string{"127.0.0.1:1"}, People: [][32]byte{k}}); err != nil || n != 1 {
		t.Errorf("Count by address and person: %d, %v; want 1", n, err)
	}
	if ms, err := s.PendingTo(ctx, k); err != nil || len(ms) != 0 {
		t.Errorf("PendingTo lists a message stored without the person: %q, %v", texts(ms), err)
	}
}

// A message is named by its sender's key and ID, whatever address it came
// from: a retransmission from a person's new address is no new message, and
// an acknowledgement from there counts.
func TestPersonDedup(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	k := testKey(1)
	in := testMessage("127.0.0.1:1", testID(1), "hi")
	in.Person = k
	if isNew, err := s.AddIncoming(ctx, in); err != nil || !isNew {
		t.Fatal(isNew, err)
	}
	in.Peer = "192.0.2.1:7475"
	if isNew, err := s.AddIncoming(ctx, in); err != nil || isNew {
		t.Errorf("AddIncoming of the same ID from the person's other address: isNew %v, %v; want a duplicate", isNew, err)
	}
	out := testMessage("127.0.0.1:1", testID(2), "hello")
	out.Person = k
	if err := s.AddOutgoing(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDeliveredBy(ctx, k, out.ID); err != nil {
		t.Fatal(err)
	}
	if ms, err := s.History(ctx, Query{People: [][32]byte{k}}); err != nil || len(ms) != 2 || ms[1].State != Delivered {
		t.Errorf("the person's history: %+v, %v; want hi, then hello delivered", ms, err)
	}
	if err := s.MarkDeliveredBy(ctx, testKey(2), out.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDeliveredBy another person: %v, want ErrNotFound", err)
	}
}

// ContactNearby marks a contact, never adds one, and its time only moves on.
func TestContactNearby(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	bob, stranger := testKey(1), testKey(2)
	if err := s.ContactSeen(ctx, Sighting{Key: bob, AnnouncedName: "bob"}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	for _, at := range []time.Time{later, later.Add(-time.Hour)} {
		if ok, err := s.ContactNearby(ctx, bob, at); !ok || err != nil {
			t.Fatalf("ContactNearby(bob, %v) = %v, %v; want true, nil", at, ok, err)
		}
	}
	if c, err := s.Contact(ctx, bob); err != nil || !c.NearbyAt.Equal(later) {
		t.Errorf("bob nearby at %v (err %v), want %v: an older report moved it back", c.NearbyAt, err, later)
	}
	if ok, err := s.ContactNearby(ctx, stranger, later); ok || err != nil {
		t.Errorf("ContactNearby(stranger) = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.Contact(ctx, stranger); !errors.Is(err, ErrNoContact) {
		t.Errorf("a stranger heard nearby became a contact (err %v)", err)
	}
}

// A message a relay holds stays in the outbox, marked held, until it is
// delivered; held changes nothing of one delivered already.
func TestMarkHeldBy(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	bob := testKey(2)
	for i := range 2 {
		m := testMessage("[100::1]:7475", testID(i), "for bob, offline")
		m.Person = bob
		if err := s.AddOutgoing(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkDeliveredBy(ctx, bob, testID(1)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.MarkHeldBy(ctx, bob, testID(i)); err != nil {
			t.Fatalf("MarkHeldBy %d: %v", i, err)
		}
	}
	if err := s.MarkHeldBy(ctx, bob, testID(9)); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkHeldBy of an unknown message: %v, want ErrNotFound", err)
	}
	pending, err := s.PendingTo(ctx, bob)
	if err != nil || len(pending) != 1 || pending[0].ID != testID(0) || pending[0].HeldAt.IsZero() {
		t.Fatalf("PendingTo: %+v, %v; want message 0, held", pending, err)
	}
	if err := s.MarkDeliveredBy(ctx, bob, testID(0)); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingTo(ctx, bob); err != nil || len(pending) != 0 {
		t.Errorf("PendingTo after delivery: %+v, %v; want none", pending, err)
	}
	h, err := s.History(ctx, Query{})
	if err != nil || len(h) != 2 || !h[1].HeldAt.IsZero() || h[1].State != Delivered {
		t.Errorf("History: %+v, %v; want message 1 delivered and never held", h, err)
	}
}
