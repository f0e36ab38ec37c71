package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRoomPayloadRoundTrip(t *testing.T) {
	for _, label := range []string{"", "ops", "café", strings.Repeat("x", MaxRoomLabel)} {
		b, err := AppendRoomPayload(nil, label, []byte{byte(RoomStatus), 1, 2})
		if err != nil {
			t.Fatal(err)
		}
		if !IsRoomPayload(b) {
			t.Fatalf("%q: not a room payload", label)
		}
		gotLabel, d, err := ParseRoomPayload(b)
		if err != nil || gotLabel != label || !bytes.Equal(d, []byte{byte(RoomStatus), 1, 2}) {
			t.Fatalf("%q: parsed %q %x %v", label, gotLabel, d, err)
		}
	}
}

func TestRoomPayloadRejects(t *testing.T) {
	if _, err := AppendRoomPayload(nil, strings.Repeat("x", MaxRoomLabel+1), []byte{1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("a long label: %v", err)
	}
	if _, err := AppendRoomPayload(nil, "ops", nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("no datagram: %v", err)
	}
	for _, b := range [][]byte{nil, {ChatRoom}, {ChatRoom, 0}, {ChatRoom, 3, 'o', 'p'}, {ChatRoom, 1, 0xff, 1}, {byte(ChatText), 0, 1}} {
		if _, _, err := ParseRoomPayload(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v, want ErrMalformed", b, err)
		}
	}
}

func FuzzParseRoomPayload(f *testing.F) {
	f.Add([]byte{ChatRoom, 3, 'o', 'p', 's', byte(RoomStatus)})
	f.Add([]byte{ChatRoom, 0, byte(RoomBinding)})
	f.Fuzz(func(t *testing.T, b []byte) {
		label, d, err := ParseRoomPayload(b)
		if err != nil {
			return
		}
		again, err := AppendRoomPayload(nil, label, d)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x parsed but does not encode back: %x %v", b, again, err)
		}
	})
}
