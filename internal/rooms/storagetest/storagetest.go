// Package storagetest is the behaviour every rooms.Storage must have, as
// tests that run against any of them: MemStorage in internal/rooms, the
// SQLite one in internal/rooms/roomstore. Imported by tests only.
package storagetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/rooms"
)

// Opener gives a test an empty Storage, and reopen, which returns the same
// storage as a restart finds it (for one on disk: closed and opened again;
// for one in memory: itself). Both are cleaned up when the test ends.
type Opener func(t *testing.T) (s rooms.Storage, reopen func() rooms.Storage)

// Run runs every behaviour test against the Storage open gives.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"RoomsAndLog", testRoomsAndLog},
		{"Keys", testKeys},
		{"Messages", testMessages},
		{"Deliveries", testDeliveries},
		{"UnknownRoom", testUnknownRoom},
		{"Invitations", testInvitations},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

func roomID(n byte) rooms.RoomID { return rooms.RoomID{0: 0xAB, 15: n} }

func person(n byte) keys.PublicKey { return keys.PublicKey{0: 0xCC, 31: n} }

// must fails the test if err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkBothLives runs check on s and then on s reopened: what was stored
// is there after a restart too.
func checkBothLives(t *testing.T, s rooms.Storage, reopen func() rooms.Storage, check func(rooms.Storage)) {
	t.Helper()
	check(s)
	check(reopen())
}

// Rooms come back in the order they were added, with their records as
// last put; a room is added once; its log is what AddRoom and AppendLog
// gave, in order, and one room's log is not another's.
func testRoomsAndLog(t *testing.T, open Opener) {
	s, reopen := open(t)
	a, b := roomID(1), roomID(2)
	must(t, s.AddRoom(rooms.RoomRecord{ID: b}, [][]byte{[]byte("b1")}))
	must(t, s.AddRoom(rooms.RoomRecord{ID: a}, [][]byte{[]byte("a1"), []byte("a2")}))
	if err := s.AddRoom(rooms.RoomRecord{ID: a}, [][]byte{[]byte("again")}); err == nil {
		t.Error("a second AddRoom of a room succeeded")
	}
	must(t, s.AppendLog(a, []byte("a3")))
	recA := rooms.RoomRecord{ID: a, HistoryDone: true, Leaving: true, HistoryCursor: rooms.Order{Lamport: 1 << 40, Sender: person(7)}}
	must(t, s.PutRoom(rooms.RoomRecord{ID: a, HistoryCursor: rooms.Order{Lamport: 3}}))
	must(t, s.PutRoom(recA))
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		got, err := s.Rooms()
		must(t, err)
		if want := []rooms.RoomRecord{{ID: b}, recA}; !reflect.DeepEqual(got, want) {
			t.Errorf("Rooms() = %+v, want %+v", got, want)
		}
		for id, want := range map[rooms.RoomID][]string{a: {"a1", "a2", "a3"}, b: {"b1"}} {
			log, err := s.Log(id)
			must(t, err)
			if got := strs(log); !slices.Equal(got, want) {
				t.Errorf("Log(%x) = %q, want %q", id[15], got, want)
			}
		}
	})
}

// A sender key is kept whole, one per sender and epoch: the first one put.
func testKeys(t *testing.T, open Opener) {
	s, reopen := open(t)
	a, b := roomID(1), roomID(2)
	must(t, s.AddRoom(rooms.RoomRecord{ID: a}, nil))
	must(t, s.AddRoom(rooms.RoomRecord{ID: b}, nil))
	k1 := rooms.SenderKey{Sender: person(1), Epoch: 1, FirstSeq: 1, Key: [32]byte{1, 2, 3}, Sig: [64]byte{4, 63: 5}}
	k2 := rooms.SenderKey{Sender: person(1), Epoch: 3, PrevEpoch: 1, FirstSeq: 17, Key: [32]byte{6}, Sig: [64]byte{7}}
	k3 := rooms.SenderKey{Sender: person(2), Epoch: 1, FirstSeq: 1, Key: [32]byte{8}, Sig: [64]byte{9}}
	for _, k := range []rooms.SenderKey{k2, k1, k3} {
		must(t, s.PutKey(a, k))
	}
	other := k1
	other.Key = [32]byte{0xFF}
	must(t, s.PutKey(a, other)) // the same sender and epoch: kept as it was
	must(t, s.PutKey(b, other))
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		for id, want := range map[rooms.RoomID][]rooms.SenderKey{a: {k1, k2, k3}, b: {other}} {
			got, err := s.Keys(id)
			must(t, err)
			slices.SortFunc(got, func(x, y rooms.SenderKey) int {
				return cmp.Or(bytes.Compare(x.Sender[:], y.Sender[:]), cmp.Compare(x.Epoch, y.Epoch))
			})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Keys(%x) = %+v, want %+v", id[15], got, want)
			}
		}
	})
}

// A message is kept whole, once per ID: the same ID again changes nothing,
// and the caller may reuse its text once PutMessage returns.
func testMessages(t *testing.T, open Opener) {
	s, reopen := open(t)
	a, b := roomID(1), roomID(2)
	must(t, s.AddRoom(rooms.RoomRecord{ID: a}, nil))
	must(t, s.AddRoom(rooms.RoomRecord{ID: b}, nil))
	msg := func(room rooms.RoomID, sender byte, seq, lamport uint64, text string, history bool) rooms.Message {
		return rooms.Message{Room: room, ID: rooms.MessageID{Sender: person(sender), Seq: seq}, Epoch: seq / 2,
			Lamport: lamport, Text: []byte(text), Sig: [64]byte{sender, 63: byte(seq)}, History: history}
	}
	want := []rooms.Message{
		msg(a, 1, 1, 1, "hello", false),
		msg(a, 2, 1, 1, "", false), // an empty text is a text
		msg(a, 1, 2, 2, "again", false),
		msg(a, 3, 9, 1<<50, "said before I came", true),
	}
	for _, m := range slices.Backward(want) {
		m.Text = slices.Clone(m.Text)
		must(t, s.PutMessage(m))
		clear(m.Text) // the caller's buffer, reused
	}
	dup := msg(a, 1, 1, 5, "a forgery or a bug", true)
	must(t, s.PutMessage(dup))
	inB := msg(b, 1, 1, 1, "in b", false)
	must(t, s.PutMessage(inB))
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		for id, want := range map[rooms.RoomID][]rooms.Message{a: want, b: {inB}} {
			got, err := s.Messages(id)
			must(t, err)
			slices.SortFunc(got, func(x, y rooms.Message) int {
				return cmp.Or(cmp.Compare(x.Lamport, y.Lamport), bytes.Compare(x.ID.Sender[:], y.ID.Sender[:]), cmp.Compare(x.ID.Seq, y.ID.Seq))
			})
			if d := diffMessages(got, want); d != "" {
				t.Errorf("Messages(%x): %s", id[15], d)
			}
		}
	})
}

// Delivery heads per member and sender only grow.
func testDeliveries(t *testing.T, open Opener) {
	s, reopen := open(t)
	a, b := roomID(1), roomID(2)
	must(t, s.AddRoom(rooms.RoomRecord{ID: a}, nil))
	must(t, s.AddRoom(rooms.RoomRecord{ID: b}, nil))
	for _, d := range []rooms.Delivery{
		{Member: person(1), Sender: person(2), Head: 5},
		{Member: person(1), Sender: person(2), Head: 3}, // an old status, late
		{Member: person(2), Sender: person(1), Head: 1},
		{Member: person(2), Sender: person(1), Head: 9},
		{Member: person(1), Sender: person(1), Head: 4},
	} {
		must(t, s.PutDelivery(a, d))
	}
	must(t, s.PutDelivery(b, rooms.Delivery{Member: person(3), Sender: person(1), Head: 2}))
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		for id, want := range map[rooms.RoomID][]rooms.Delivery{
			a: {{Member: person(1), Sender: person(1), Head: 4}, {Member: person(1), Sender: person(2), Head: 5}, {Member: person(2), Sender: person(1), Head: 9}},
			b: {{Member: person(3), Sender: person(1), Head: 2}},
		} {
			got, err := s.Deliveries(id)
			must(t, err)
			slices.SortFunc(got, func(x, y rooms.Delivery) int {
				return cmp.Or(bytes.Compare(x.Member[:], y.Member[:]), bytes.Compare(x.Sender[:], y.Sender[:]))
			})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Deliveries(%x) = %+v, want %+v", id[15], got, want)
			}
		}
	})
}

// A write to a room never added is refused with rooms.ErrNoRoom and adds
// nothing; reading one gives nothing.
func testUnknownRoom(t *testing.T, open Opener) {
	s, reopen := open(t)
	id := roomID(9)
	for name, err := range map[string]error{
		"PutRoom":     s.PutRoom(rooms.RoomRecord{ID: id}),
		"AppendLog":   s.AppendLog(id, []byte("entry")),
		"PutKey":      s.PutKey(id, rooms.SenderKey{Sender: person(1), Epoch: 1}),
		"PutMessage":  s.PutMessage(rooms.Message{Room: id, ID: rooms.MessageID{Sender: person(1), Seq: 1}}),
		"PutDelivery": s.PutDelivery(id, rooms.Delivery{Member: person(1), Sender: person(2), Head: 1}),
	} {
		if !errors.Is(err, rooms.ErrNoRoom) {
			t.Errorf("%s to a room never added: %v, want rooms.ErrNoRoom", name, err)
		}
	}
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		recs, err := s.Rooms()
		must(t, err)
		log, err := s.Log(id)
		must(t, err)
		ks, err := s.Keys(id)
		must(t, err)
		ms, err := s.Messages(id)
		must(t, err)
		ds, err := s.Deliveries(id)
		must(t, err)
		if len(recs)+len(log)+len(ks)+len(ms)+len(ds) != 0 {
			t.Errorf("after writes to a room never added: %d rooms, %d log entries, %d keys, %d messages, %d deliveries; want none",
				len(recs), len(log), len(ks), len(ms), len(ds))
		}
	})
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// diffMessages says how got differs from want, or "". An empty text and a
// nil one are the same text.
func diffMessages(got, want []rooms.Message) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d messages, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Text, w.Text) {
			return fmt.Sprintf("message %d has text %q, want %q", i, g.Text, w.Text)
		}
		g.Text, w.Text = nil, nil
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("message %d:\ngot  %+v\nwant %+v", i, g, w)
		}
	}
	return ""
}

// Invitations come back in the order they first came, one per room (a
// later one replaces it, in its place), until dropped; dropping one never
// kept is no error.
func testInvitations(t *testing.T, open Opener) {
	s, reopen := open(t)
	a, b := roomID(1), roomID(2)
	must(t, s.PutInvitation(rooms.Invitation{Room: a, Label: "ops", Log: []byte("log a v2")}))
	must(t, s.PutInvitation(rooms.Invitation{Room: b, Label: "dev", Log: []byte("log b")}))
	must(t, s.PutInvitation(rooms.Invitation{Room: a, Label: "ops", Log: []byte("log a v3")}))
	must(t, s.DropInvitation(roomID(9)))
	want := []rooms.Invitation{{Room: a, Label: "ops", Log: []byte("log a v3")}, {Room: b, Label: "dev", Log: []byte("log b")}}
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		if got, err := s.Invitations(); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Invitations = %+v, %v; want %+v", got, err, want)
		}
	})
	s = reopen()
	must(t, s.DropInvitation(a))
	checkBothLives(t, s, reopen, func(s rooms.Storage) {
		if got, err := s.Invitations(); err != nil || !reflect.DeepEqual(got, want[1:]) {
			t.Fatalf("after dropping one: %+v, %v; want %+v", got, err, want[1:])
		}
	})
}
