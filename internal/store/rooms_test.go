package store

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

// A schema-5 database (people) moves to schema 6 (rooms) with every row
// as it was, messages and contacts, and no rooms; rooms can then be kept.
func TestRoomsMigrationKeepsSchema5(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	old, err := open(ctx, dir, options{schema: 5})
	if err != nil {
		t.Fatal(err)
	}
	alice := testKey(1)
	in := testMessage("127.0.0.1:9002", testID(1), "hello from schema 5")
	in.Person = alice
	if _, err := old.AddIncoming(ctx, in); err != nil {
		t.Fatal(err)
	}
	out := testMessage("127.0.0.1:9002", testID(2), "pending since schema 5")
	out.Person = alice
	if err := old.AddOutgoing(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := old.ContactSeen(ctx, Sighting{Key: alice, AnnouncedName: "alice", Address: "127.0.0.1:9002", Source: FromPacket, At: t0}); err != nil {
		t.Fatal(err)
	}
	// What schema 5 holds of alice (read with today's code only after the
	// migration: Contacts reads the columns of the latest schema).
	wantContacts := []Contact{{Key: alice, AnnouncedName: "alice", FirstSeen: t0, LastSeen: t0,
		Endpoints: []Endpoint{{Address: "127.0.0.1:9002", Source: FromPacket, LastSeen: t0}}}}
	// What schema 5 holds of the messages (History reads the columns of
	// the latest schema, so it is not asked before the migration).
	in.Direction, in.State = Incoming, Received
	out.Direction, out.State = Outgoing, Pending
	wantHistory := []Message{in, out}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openT(t, dir)
	if v := userVersion(t, s.db); v != schemaVersion || schemaVersion < 6 {
		t.Fatalf("user_version %d after Open, want %d (at least 6)", v, schemaVersion)
	}
	history, err := s.History(ctx, Query{})
	if err != nil || len(history) != len(wantHistory) {
		t.Fatalf("History after the migration: %d messages, %v; want %d", len(history), err, len(wantHistory))
	}
	for i := range history {
		if d := sameMessage(history[i], wantHistory[i]); d != "" || history[i].Person != alice {
			t.Errorf("message %d after the migration (person %x):\n%s", i, history[i].Person, d)
		}
	}
	contacts, err := s.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffContacts(contacts, wantContacts); d != "" {
		t.Error(d)
	}
	if pending, err := s.PendingTo(ctx, alice); err != nil || len(pending) != 1 {
		t.Errorf("PendingTo after the migration: %d, %v; want 1", len(pending), err)
	}
	if rooms, err := s.Rooms(ctx); err != nil || len(rooms) != 0 {
		t.Errorf("Rooms after the migration: %v, %v; want none", rooms, err)
	}
	room := Room{ID: [16]byte{1}}
	if err := s.AddRoom(ctx, room, [][]byte{[]byte("entry 1")}); err != nil {
		t.Fatal(err)
	}
	if rooms, err := s.Rooms(ctx); err != nil || !reflect.DeepEqual(rooms, []Room{room}) {
		t.Errorf("Rooms after AddRoom: %+v, %v", rooms, err)
	}
}

// The protocol's numbers are 64-bit unsigned; SQLite's are signed. Every
// value comes back as it went in, the largest too, and the errors say
// what is wrong: a room added twice, a write to a room never added.
func TestRoomNumbersAndErrors(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	big := uint64(math.MaxUint64)
	room := Room{ID: [16]byte{2}, HistoryDone: true, CursorLamport: big, CursorSender: testKey(3)}
	if err := s.AddRoom(ctx, room, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoom(ctx, room, nil); !errors.Is(err, ErrRoomExists) {
		t.Errorf("a second AddRoom: %v, want ErrRoomExists", err)
	}
	if err := s.AppendRoomLog(ctx, [16]byte{9}, []byte("entry")); !errors.Is(err, ErrNoRoom) {
		t.Errorf("AppendRoomLog to a room never added: %v, want ErrNoRoom", err)
	}
	if err := s.PutRoom(ctx, Room{ID: [16]byte{9}}); !errors.Is(err, ErrNoRoom) {
		t.Errorf("PutRoom of a room never added: %v, want ErrNoRoom", err)
	}
	key := RoomKey{Sender: testKey(1), Epoch: big, PrevEpoch: big - 1, FirstSeq: big, Key: [32]byte{1}, Sig: [64]byte{2}}
	msg := RoomMessage{Sender: testKey(1), Seq: big, Epoch: big, Lamport: big, Text: []byte("x"), Sig: [64]byte{3}}
	deliv := RoomDelivery{Member: testKey(2), Sender: testKey(1), Head: big}
	if err := s.PutRoomKey(ctx, room.ID, key); err != nil {
		t.Fatal(err)
	}
	if isNew, err := s.AddRoomMessage(ctx, room.ID, msg); err != nil || !isNew {
		t.Fatalf("AddRoomMessage: isNew %v, %v", isNew, err)
	}
	if isNew, err := s.AddRoomMessage(ctx, room.ID, msg); err != nil || isNew {
		t.Errorf("AddRoomMessage again: isNew %v, %v; want a duplicate", isNew, err)
	}
	if err := s.PutRoomDelivery(ctx, room.ID, deliv); err != nil {
		t.Fatal(err)
	}
	rooms, err := s.Rooms(ctx)
	if err != nil || !reflect.DeepEqual(rooms, []Room{room}) {
		t.Errorf("Rooms: %+v, %v; want %+v", rooms, err, room)
	}
	ks, err := s.RoomKeys(ctx, room.ID)
	if err != nil || !reflect.DeepEqual(ks, []RoomKey{key}) {
		t.Errorf("RoomKeys: %+v, %v; want %+v", ks, err, key)
	}
	ms, err := s.RoomMessages(ctx, room.ID)
	if err != nil || !reflect.DeepEqual(ms, []RoomMessage{msg}) {
		t.Errorf("RoomMessages: %+v, %v; want %+v", ms, err, msg)
	}
	ds, err := s.RoomDeliveries(ctx, room.ID)
	if err != nil || !reflect.DeepEqual(ds, []RoomDelivery{deliv}) {
		t.Errorf("RoomDeliveries: %+v, %v; want %+v", ds, err, deliv)
	}
}
