package wire

import (
	"fmt"
	"unicode/utf8"
)

// A room payload is a chat payload that carries one room datagram (see
// room.go) over the reliable, encrypted pairwise session between two
// members. Its first byte, ChatRoom, lies beside the chat's kinds (1 to 5)
// and the files' (16 to 22), so a receiver that predates rooms drops it as
// an unknown chat kind:
//
//	+----------+-------+------------+---------------------------
//	| ChatRoom | n (1) | label (n)  | room datagram (rest)
//	+----------+-------+------------+---------------------------
//
// The label is the sender's name for the room, UTF-8, at most
// MaxRoomLabel bytes. It is a local label, not part of the room: only an
// invitation (a RoomLog datagram from the founder) carries one, which the
// invitee takes as its own name for the room unless it already has one;
// every other room payload has n = 0.
const ChatRoom = 24

// MaxRoomLabel bounds a room's label, in bytes of UTF-8.
const MaxRoomLabel = MaxNameLen

// AppendRoomPayload appends the chat payload that carries datagram, with
// label (empty but for invitations), to b.
func AppendRoomPayload(b []byte, label string, datagram []byte) ([]byte, error) {
	if len(label) > MaxRoomLabel || !utf8.ValidString(label) {
		return b, fmt.Errorf("%w: a room label must be valid UTF-8 of at most %d bytes", ErrMalformed, MaxRoomLabel)
	}
	if len(datagram) == 0 || len(datagram) > MaxRoomDatagram {
		return b, fmt.Errorf("%w: a room datagram of %d bytes", ErrMalformed, len(datagram))
	}
	b = append(b, ChatRoom, byte(len(label)))
	b = append(b, label...)
	return append(b, datagram...), nil
}

// IsRoomPayload reports whether a chat payload carries a room datagram.
func IsRoomPayload(b []byte) bool { return len(b) > 0 && b[0] == ChatRoom }

// ParseRoomPayload splits a room payload into its label and datagram (a
// slice of b). The datagram itself is the rooms core's to parse.
func ParseRoomPayload(b []byte) (label string, datagram []byte, err error) {
	if !IsRoomPayload(b) || len(b) < 2 {
		return "", nil, fmt.Errorf("%w: not a room payload", ErrMalformed)
	}
	n := int(b[1])
	rest := b[2:]
	if n > MaxRoomLabel || n > len(rest) || !utf8.Valid(rest[:n]) {
		return "", nil, fmt.Errorf("%w: a room payload's label", ErrMalformed)
	}
	label, datagram = string(rest[:n]), rest[n:]
	if len(datagram) == 0 || len(datagram) > MaxRoomDatagram {
		return "", nil, fmt.Errorf("%w: a room datagram of %d bytes", ErrMalformed, len(datagram))
	}
	return label, datagram, nil
}
