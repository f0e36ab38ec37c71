package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// roomSamples has one datagram of every room type with every field set.
func roomSamples() []RoomDatagram {
	room := [RoomIDLen]byte{1, 2, 3}
	peer := [RoomKeyLen]byte{9, 9}
	key := [RoomKeyLen]byte{7}
	sig := [RoomSigLen]byte{5, 5, 5}
	item := RoomHistoryItem{Header: RoomMsgHeader{Room: room, Sender: peer, Epoch: 2, Seq: 300, Lamport: 70000}, Text: []byte("hi"), Sig: sig}
	return []RoomDatagram{
		{Type: RoomBinding, Key: key, Sig: sig},
		{Type: RoomMessage, Room: room, Peer: peer, Epoch: 3, Seq: 1, Lamport: 99, Body: []byte("ciphertext")},
		{Type: RoomKey, Room: room, Peer: peer, Epoch: 4, PrevEpoch: 2, Seq: 17, Key: key, Sig: sig},
		{Type: RoomLog, Room: room, Entries: [][]byte{[]byte("a"), {}, []byte("ccc")}},
		{Type: RoomStatus, Room: room, Epoch: 5, Key: key, Heads: []uint64{1, 0, 1 << 40, 3, 4, 5, 6, 7, 8}, Reach: []byte{0xff, 1}},
		{Type: RoomAck, Room: room, Peer: peer, Seq: 12},
		{Type: RoomGapRequest, Room: room, Peer: peer, Seq: 3, To: 9},
		{Type: RoomKeyRequest, Room: room, Peer: peer, Epoch: 6},
		{Type: RoomLogRequest, Room: room, Epoch: 2},
		{Type: RoomHistoryRequest, Room: room, Lamport: 40, Peer: peer},
		{Type: RoomHistory, Room: room, Done: true, History: []RoomHistoryItem{item, item}},
		{Type: RoomForwardTo, Room: room, Peer: peer, Body: []byte{0x02, 1}},
		{Type: RoomForwardedFrom, Room: room, Peer: peer, Body: []byte{0x06}},
		{Type: RoomLeave, Room: room, Epoch: 9, Sig: sig},
	}
}

func TestRoomRoundTripAndTruncation(t *testing.T) {
	for _, d := range roomSamples() {
		b, err := AppendRoom(nil, &d)
		if err != nil {
			t.Fatalf("AppendRoom(type %#x): %v", d.Type, err)
		}
		got, err := ParseRoom(b)
		if err != nil {
			t.Fatalf("ParseRoom(type %#x): %v", d.Type, err)
		}
		if !reflect.DeepEqual(normalRoom(got), normalRoom(d)) {
			t.Errorf("type %#x: parsed %+v, want %+v", d.Type, got, d)
		}
		// A message and a forward end with a body of any length, so
		// only cutting into their fixed fields must fail.
		fixed := len(b)
		if len(d.Body) > 0 {
			fixed -= len(d.Body)
		}
		for n := range fixed {
			if _, err := ParseRoom(b[:n]); err == nil {
				t.Errorf("type %#x: a prefix of %d of %d bytes parsed", d.Type, n, len(b))
			} else {
				checkSentinel(t, err)
			}
		}
		if d.Type != RoomMessage && d.Type != RoomForwardTo && d.Type != RoomForwardedFrom {
			if _, err := ParseRoom(append(b, 0)); !errors.Is(err, ErrMalformed) {
				t.Errorf("type %#x with a trailing byte: %v, want ErrMalformed", d.Type, err)
			}
		}
	}
}

func TestRoomRefusesUnknownAndOversized(t *testing.T) {
	if _, err := ParseRoom([]byte{0x7f, 0}); !errors.Is(err, ErrType) {
		t.Errorf("unknown type: %v", err)
	}
	big := make([]byte, MaxRoomDatagram+1)
	big[0] = byte(RoomMessage)
	if _, err := ParseRoom(big); !errors.Is(err, ErrTooBig) {
		t.Errorf("oversized: %v", err)
	}
	// A list length over the limit is refused before anything is allocated.
	b := append([]byte{byte(RoomLog)}, make([]byte, RoomIDLen)...)
	b = AppendVarint(b, MaxRoomLog+1)
	if _, err := ParseRoom(b); !errors.Is(err, ErrTooBig) {
		t.Errorf("log of too many entries: %v", err)
	}
	// A log whose entries would make a datagram over the bound is not made.
	entry := make([]byte, 1000)
	huge := RoomDatagram{Type: RoomLog, Entries: make([][]byte, MaxRoomDatagram/1000)}
	for i := range huge.Entries {
		huge.Entries[i] = entry
	}
	if out, err := AppendRoom([]byte("kept"), &huge); !errors.Is(err, ErrTooBig) || string(out) != "kept" {
		t.Errorf("a log over %d bytes: %v, and %d bytes appended", MaxRoomDatagram, err, len(out)-4)
	}
}

func TestRoomLogEntry(t *testing.T) {
	for _, e := range []RoomLogEntry{
		{Version: 1, Op: RoomOpCreate, Member: [32]byte{1}, SignKey: [32]byte{2}, Policy: RoomHistoryLast, KeepN: 50, Sig: [64]byte{3}},
		{Version: 7, PrevHash: [32]byte{4}, Op: RoomOpRemove, Member: [32]byte{5}, SignKey: [32]byte{6}, Sig: [64]byte{7}},
		{Version: 8, PrevHash: [32]byte{4}, Op: RoomOpTopic, Member: [32]byte{1}, SignKey: [32]byte{2}, Topic: "déploiement vendredi", Sig: [64]byte{7}},
	} {
		b := AppendRoomLogEntry(nil, &e)
		got, err := ParseRoomLogEntry(b)
		if err != nil || got != e {
			t.Fatalf("ParseRoomLogEntry = %+v, %v; want %+v", got, err, e)
		}
		for n := range len(b) {
			if _, err := ParseRoomLogEntry(b[:n]); err == nil {
				t.Errorf("a prefix of %d of %d bytes parsed", n, len(b))
			}
		}
	}
	bad := RoomLogEntry{Version: 2, Op: 9}
	if _, err := ParseRoomLogEntry(AppendRoomLogEntry(nil, &bad)); !errors.Is(err, ErrType) {
		t.Errorf("unknown op: %v", err)
	}
	long := RoomLogEntry{Version: 2, Op: RoomOpTopic, Topic: string(make([]byte, MaxRoomTopic+1))}
	if _, err := ParseRoomLogEntry(AppendRoomLogEntry(nil, &long)); !errors.Is(err, ErrTooBig) {
		t.Errorf("a topic over %d bytes: %v", MaxRoomTopic, err)
	}
	notUTF8 := RoomLogEntry{Version: 2, Op: RoomOpTopic, Topic: "\xff"}
	if _, err := ParseRoomLogEntry(AppendRoomLogEntry(nil, &notUTF8)); !errors.Is(err, ErrMalformed) {
		t.Errorf("a topic that is not UTF-8: %v", err)
	}
}

// normalRoom makes empty and nil slices compare equal.
func normalRoom(d RoomDatagram) RoomDatagram {
	if len(d.Body) == 0 {
		d.Body = nil
	}
	if len(d.Reach) == 0 {
		d.Reach = nil
	}
	for i, e := range d.Entries {
		if len(e) == 0 {
			d.Entries[i] = nil
		}
	}
	return d
}

func FuzzParseRoom(f *testing.F) {
	for _, d := range roomSamples() {
		b, _ := AppendRoom(nil, &d)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseRoom(b)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		// Varints need not be minimal, so compare values: re-encode,
		// parse again, and the two parses must agree.
		enc, err := AppendRoom(nil, &d)
		if err != nil {
			t.Fatalf("AppendRoom of a parsed datagram: %v", err)
		}
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew %d to %d bytes", len(b), len(enc))
		}
		d2, err := ParseRoom(enc)
		if err != nil || !reflect.DeepEqual(normalRoom(d), normalRoom(d2)) {
			t.Fatalf("re-parse = %+v, %v; want %+v", d2, err, d)
		}
	})
}

func FuzzParseRoomLogEntry(f *testing.F) {
	e := RoomLogEntry{Version: 1, Op: RoomOpCreate, Policy: RoomHistoryAll}
	f.Add(AppendRoomLogEntry(nil, &e))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseRoomLogEntry(b)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		e2, err := ParseRoomLogEntry(AppendRoomLogEntry(nil, &e))
		if err != nil || e2 != e {
			t.Fatalf("re-parse = %+v, %v; want %+v", e2, err, e)
		}
		if !bytes.Equal(AppendRoomLogEntry(nil, &e2), AppendRoomLogEntry(nil, &e)) {
			t.Fatal("encodings differ")
		}
	})
}

// Golden encodings, as docs/PROTOCOL.md (Rooms, R3) lays them out, for a
// second implementation to check itself against.
func TestRoomGolden(t *testing.T) {
	room := [RoomIDLen]byte{0: 0xaa, 15: 0xbb}
	peer := [RoomKeyLen]byte{0: 0x11, 31: 0x22}
	const roomHex = "aa" + "0000000000000000000000000000" + "bb"
	const peerHex = "11" + "000000000000000000000000000000000000000000000000000000000000" + "22"
	for _, tc := range []struct {
		d   RoomDatagram
		hex string
	}{
		{RoomDatagram{Type: RoomMessage, Room: room, Peer: peer, Epoch: 3, Seq: 300, Lamport: 70000, Body: []byte{0xde, 0xad}},
			"02" + roomHex + peerHex + "03 412c 80011170 dead"},
		{RoomDatagram{Type: RoomStatus, Room: room, Epoch: 2, Key: peer, Heads: []uint64{0, 64}, Reach: []byte{0x03}},
			"05" + roomHex + "02" + peerHex + "02 00 4040 03"},
		{RoomDatagram{Type: RoomGapRequest, Room: room, Peer: peer, Seq: 5, To: 9},
			"07" + roomHex + peerHex + "05 09"},
	} {
		b, err := AppendRoom(nil, &tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if want := mustHex(tc.hex); !bytes.Equal(b, want) {
			t.Errorf("type %#x: %x, want %x", tc.d.Type, b, want)
		}
	}
}
