package wire

import "fmt"

// Files to a room (docs/PROTOCOL.md F7) add two things to the rooms: a
// room message whose content is a note that a file was shared rather than
// text, and a want, the room datagram a member sends the file's sender to
// be offered it.

// RoomFileWant is the room datagram type of a want:
//
//	0x0f | room ID (16) | root (32)
const RoomFileWant RoomType = 0x0f

// RoomFileWantLen is a want's length: it has no other.
const RoomFileWantLen = 1 + RoomIDLen + FileHashLen

// RoomFileWantMessage asks the sender of the file of root, shared in
// room, to offer it.
type RoomFileWantMessage struct {
	Room [RoomIDLen]byte
	Root [FileHashLen]byte
}

// AppendRoomFileWant appends w's encoding to b.
func AppendRoomFileWant(b []byte, w RoomFileWantMessage) ([]byte, error) {
	b = append(b, byte(RoomFileWant))
	b = append(b, w.Room[:]...)
	return append(b, w.Root[:]...), nil
}

// ParseRoomFileWant decodes a want.
func ParseRoomFileWant(b []byte) (RoomFileWantMessage, error) {
	var w RoomFileWantMessage
	switch {
	case len(b) == 0 || b[0] != byte(RoomFileWant):
		return w, ErrType
	case len(b) < RoomFileWantLen:
		return w, ErrTruncated
	case len(b) > RoomFileWantLen:
		return w, fmt.Errorf("%w: %d bytes after a want", ErrMalformed, len(b)-RoomFileWantLen)
	}
	copy(w.Room[:], b[1:])
	copy(w.Root[:], b[1+RoomIDLen:])
	return w, nil
}

// A room message's text that begins with roomNoteMark (NUL, which no text
// a person types begins with) is a note, of the kind its next byte says.
const (
	roomNoteMark = 0x00
	// RoomNoteFile is the note that a file was shared: the offer's fields
	// but its ID, as they follow it in an offer:
	//
	//	0x00 | 0x01 | root (32) | size | shift (1) | name length (1) | name
	RoomNoteFile = 0x01
)

// IsRoomNote reports whether a room message's text is a note, not text.
func IsRoomNote(text []byte) bool { return len(text) > 0 && text[0] == roomNoteMark }

// AppendRoomFileNote appends the note that the file o offers was shared;
// o's ID is not part of it.
func AppendRoomFileNote(b []byte, o FileOfferMessage) ([]byte, error) {
	o.ID = [FileIDLen]byte{}
	enc, err := AppendFileOffer(nil, o)
	if err != nil {
		return b, err
	}
	b = append(b, roomNoteMark, RoomNoteFile)
	return append(b, enc[1+FileIDLen:]...), nil
}

// ParseRoomFileNote decodes a file note: an offer with a zero ID.
func ParseRoomFileNote(text []byte) (FileOfferMessage, error) {
	if len(text) < 2 || text[0] != roomNoteMark || text[1] != RoomNoteFile {
		return FileOfferMessage{}, ErrType
	}
	offer := make([]byte, 1+FileIDLen, 1+FileIDLen+len(text)-2)
	offer[0] = FileOffer
	return ParseFileOffer(append(offer, text[2:]...))
}
