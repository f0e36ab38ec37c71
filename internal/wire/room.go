package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// A room datagram is what the rooms core (internal/rooms) hands to the chat
// to carry to one member over their pairwise Noise session. It starts with a
// type byte; all but a binding then name the room:
//
//	+------+-----------------+-------------------------------
//	| type | room ID (16)    | the type's fields…
//	+------+-----------------+-------------------------------
//
// Keys are 32 bytes, signatures 64, counters varints (varint.go). The fields
// of each type are listed with RoomType's constants and in docs/PROTOCOL.md,
// section "Rooms".

// RoomType says what a room datagram is.
type RoomType uint8

// Room datagram types.
const (
	// RoomBinding: sign key (32) | sig (64). A member's Ed25519 key and its
	// signature over the member's Noise key; carries no room ID.
	RoomBinding RoomType = 0x01
	// RoomMessage: sender (32) | epoch | seq | lamport | ciphertext (rest).
	RoomMessage RoomType = 0x02
	// RoomKey: sender (32) | epoch | prev epoch | first seq | key (32) | sig (64).
	RoomKey RoomType = 0x03
	// RoomLog: count | count × (length | entry).
	RoomLog RoomType = 0x04
	// RoomStatus: log version | log hash (32) | n | n × head | reach bitmap (⌈n/8⌉).
	RoomStatus RoomType = 0x05
	// RoomAck: sender (32) | head.
	RoomAck RoomType = 0x06
	// RoomGapRequest: sender (32) | from seq | to seq.
	RoomGapRequest RoomType = 0x07
	// RoomKeyRequest: sender (32) | epoch.
	RoomKeyRequest RoomType = 0x08
	// RoomLogRequest: from version.
	RoomLogRequest RoomType = 0x09
	// RoomHistoryRequest: after lamport | after sender (32).
	RoomHistoryRequest RoomType = 0x0a
	// RoomHistory: done (1) | count | count × item.
	RoomHistory RoomType = 0x0b
	// RoomForwardTo: final recipient (32) | inner datagram (rest).
	RoomForwardTo RoomType = 0x0c
	// RoomForwardedFrom: original sender (32) | inner datagram (rest).
	RoomForwardedFrom RoomType = 0x0d
	// RoomLeave: added version | sig (64). A member asks the founder to
	// remove it, signed so that any member may carry it there.
	RoomLeave RoomType = 0x0e
)

// Room sizes.
const (
	RoomIDLen  = 16
	RoomKeyLen = 32 // a public key or a symmetric key
	RoomSigLen = 64 // an Ed25519 signature
	// MaxRoomText is the largest room message plaintext: a chat payload.
	MaxRoomText = MaxChatMessageLen
	// MaxRoomDatagram bounds every room datagram the core accepts: a history
	// batch or a forwarded message, with room to spare for their headers.
	MaxRoomDatagram = MaxRoomText + 4096
	// MaxRoomMembers bounds a status's heads vector (the roster: everyone
	// ever added) and so the room: a mesh of pairwise sessions.
	MaxRoomMembers = 256
	// MaxRoomBatch bounds the entries of a log batch and the items of a
	// history batch.
	MaxRoomBatch = 256
	// MaxRoomLog bounds the entries of a log datagram. The whole log goes
	// in one (an invitation), so it bounds the log too, but the datagram's
	// bytes (MaxRoomDatagram) bind first: about 1,600 entries without
	// topics.
	MaxRoomLog = 4096
	// MaxRoomTopic bounds a topic entry's text (UTF-8 bytes).
	MaxRoomTopic = 256
)

// RoomMsgHeader is the clear part of a room message: who sent it, under
// which key, and where it goes in the sender's and the room's order.
type RoomMsgHeader struct {
	Room    [RoomIDLen]byte
	Sender  [RoomKeyLen]byte // the sender's Noise (X25519) public key
	Epoch   uint64           // the membership version the sender's key belongs to
	Seq     uint64           // per sender and room, from 1, no gaps
	Lamport uint64
}

// AppendRoomMsgHeader appends h as a message carries it after its type byte;
// it is also what the sender signs (before the plaintext).
func AppendRoomMsgHeader(b []byte, h *RoomMsgHeader) []byte {
	b = append(b, h.Room[:]...)
	b = append(b, h.Sender[:]...)
	b = AppendVarint(b, h.Epoch)
	b = AppendVarint(b, h.Seq)
	return AppendVarint(b, h.Lamport)
}

// RoomHistoryItem is a message as history carries it: in the clear (the
// pairwise session encrypts it), with the sender's signature.
type RoomHistoryItem struct {
	Header RoomMsgHeader // its Room is the datagram's
	Text   []byte
	Sig    [RoomSigLen]byte
}

// RoomDatagram is one decoded room datagram. Type says which fields mean
// something; the others are zero. Byte slices alias the parsed buffer.
type RoomDatagram struct {
	Type RoomType
	Room [RoomIDLen]byte

	// Peer is the sender of a message, key, ack, gap or key request; the
	// final recipient of a RoomForwardTo; the original sender of a
	// RoomForwardedFrom; the "after sender" of a history request.
	Peer [RoomKeyLen]byte
	// Key is a binding's sign key, a RoomKey's symmetric key, a status's log hash.
	Key [RoomKeyLen]byte
	Sig [RoomSigLen]byte

	// Epoch, Seq and Lamport of a message; Epoch, PrevEpoch and Seq (its
	// first seq) of a key; Seq and To of a gap request (from, to); Epoch
	// of a key request; Seq of an ack (the head); Epoch of a status or a
	// log request (the log version); Lamport of a history request; Epoch
	// of a leave (the version that added the leaver).
	Epoch, PrevEpoch, Seq, To, Lamport uint64

	Heads   []uint64 // a status's: per roster index
	Reach   []byte   // a status's bitmap, ⌈len(Heads)/8⌉ bytes
	Entries [][]byte // a log batch's entries
	History []RoomHistoryItem
	Done    bool   // a history batch is the last
	Body    []byte // a message's ciphertext; a forward's inner datagram
}

// AppendRoom appends d's encoding to b.
func AppendRoom(b []byte, d *RoomDatagram) ([]byte, error) {
	b = append(b, byte(d.Type))
	if d.Type != RoomBinding {
		b = append(b, d.Room[:]...)
	}
	switch d.Type {
	case RoomBinding:
		b = append(b, d.Key[:]...)
		b = append(b, d.Sig[:]...)
	case RoomMessage:
		b = append(b, d.Peer[:]...)
		b = AppendVarint(b, d.Epoch)
		b = AppendVarint(b, d.Seq)
		b = AppendVarint(b, d.Lamport)
		b = append(b, d.Body...)
	case RoomKey:
		b = append(b, d.Peer[:]...)
		b = AppendVarint(b, d.Epoch)
		b = AppendVarint(b, d.PrevEpoch)
		b = AppendVarint(b, d.Seq)
		b = append(b, d.Key[:]...)
		b = append(b, d.Sig[:]...)
	case RoomLog:
		if len(d.Entries) > MaxRoomLog {
			return b, fmt.Errorf("%w: %d log entries", ErrTooBig, len(d.Entries))
		}
		start := len(b) - 1 - RoomIDLen
		b = AppendVarint(b, uint64(len(d.Entries)))
		for _, e := range d.Entries {
			b = AppendVarint(b, uint64(len(e)))
			b = append(b, e...)
		}
		if len(b)-start > MaxRoomDatagram {
			return b[:start], fmt.Errorf("%w: a log of %d bytes", ErrTooBig, len(b)-start)
		}
	case RoomStatus:
		if len(d.Heads) > MaxRoomMembers || len(d.Reach) != (len(d.Heads)+7)/8 {
			return b, fmt.Errorf("%w: status of %d heads, %d reach bytes", ErrMalformed, len(d.Heads), len(d.Reach))
		}
		b = AppendVarint(b, d.Epoch)
		b = append(b, d.Key[:]...)
		b = AppendVarint(b, uint64(len(d.Heads)))
		for _, h := range d.Heads {
			b = AppendVarint(b, h)
		}
		b = append(b, d.Reach...)
	case RoomAck:
		b = append(b, d.Peer[:]...)
		b = AppendVarint(b, d.Seq)
	case RoomGapRequest:
		b = append(b, d.Peer[:]...)
		b = AppendVarint(b, d.Seq)
		b = AppendVarint(b, d.To)
	case RoomKeyRequest:
		b = append(b, d.Peer[:]...)
		b = AppendVarint(b, d.Epoch)
	case RoomLogRequest:
		b = AppendVarint(b, d.Epoch)
	case RoomHistoryRequest:
		b = AppendVarint(b, d.Lamport)
		b = append(b, d.Peer[:]...)
	case RoomHistory:
		if len(d.History) > MaxRoomBatch {
			return b, fmt.Errorf("%w: %d history items", ErrTooBig, len(d.History))
		}
		done := byte(0)
		if d.Done {
			done = 1
		}
		b = append(b, done)
		b = AppendVarint(b, uint64(len(d.History)))
		for i := range d.History {
			it := &d.History[i]
			if len(it.Text) > MaxRoomText {
				return b, fmt.Errorf("%w: history item of %d bytes", ErrTooBig, len(it.Text))
			}
			b = append(b, it.Header.Sender[:]...)
			b = AppendVarint(b, it.Header.Epoch)
			b = AppendVarint(b, it.Header.Seq)
			b = AppendVarint(b, it.Header.Lamport)
			b = AppendVarint(b, uint64(len(it.Text)))
			b = append(b, it.Text...)
			b = append(b, it.Sig[:]...)
		}
	case RoomForwardTo, RoomForwardedFrom:
		b = append(b, d.Peer[:]...)
		b = append(b, d.Body...)
	case RoomLeave:
		b = AppendVarint(b, d.Epoch)
		b = append(b, d.Sig[:]...)
	default:
		return b, fmt.Errorf("%w: room datagram type 0x%02x", ErrType, d.Type)
	}
	return b, nil
}

// roomReader reads the fields of a room datagram front to back; the first
// error sticks, so a parser checks it once at the end.
type roomReader struct {
	b   []byte
	err error
}

func (r *roomReader) bytes(dst []byte) {
	if r.err != nil {
		return
	}
	if len(r.b) < len(dst) {
		r.err = ErrTruncated
		return
	}
	copy(dst, r.b)
	r.b = r.b[len(dst):]
}

func (r *roomReader) varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := ParseVarint(r.b)
	if err != nil {
		r.err = err
		return 0
	}
	r.b = r.b[n:]
	return v
}

// slice takes the next n bytes, aliasing the buffer.
func (r *roomReader) slice(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = ErrTruncated
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// count reads a list length and refuses one over limit, before anything is
// allocated for it.
func (r *roomReader) count(limit int) int {
	n := r.varint()
	if r.err == nil && n > uint64(limit) {
		r.err = fmt.Errorf("%w: a list of %d (the limit is %d)", ErrTooBig, n, limit)
		return 0
	}
	return int(n)
}

// ParseRoom decodes a room datagram. Byte slices in the result alias b.
func ParseRoom(b []byte) (RoomDatagram, error) {
	var d RoomDatagram
	if len(b) > MaxRoomDatagram {
		return d, fmt.Errorf("%w: a room datagram of %d bytes", ErrTooBig, len(b))
	}
	if len(b) == 0 {
		return d, ErrTruncated
	}
	d.Type = RoomType(b[0])
	r := roomReader{b: b[1:]}
	if d.Type != RoomBinding {
		r.bytes(d.Room[:])
	}
	switch d.Type {
	case RoomBinding:
		r.bytes(d.Key[:])
		r.bytes(d.Sig[:])
	case RoomMessage:
		r.bytes(d.Peer[:])
		d.Epoch, d.Seq, d.Lamport = r.varint(), r.varint(), r.varint()
		d.Body = r.slice(uint64(len(r.b)))
	case RoomKey:
		r.bytes(d.Peer[:])
		d.Epoch, d.PrevEpoch, d.Seq = r.varint(), r.varint(), r.varint()
		r.bytes(d.Key[:])
		r.bytes(d.Sig[:])
	case RoomLog:
		n := r.count(MaxRoomLog)
		for range n {
			d.Entries = append(d.Entries, r.slice(r.varint()))
		}
	case RoomStatus:
		d.Epoch = r.varint()
		r.bytes(d.Key[:])
		n := r.count(MaxRoomMembers)
		if r.err == nil {
			d.Heads = make([]uint64, n)
		}
		for i := range d.Heads {
			d.Heads[i] = r.varint()
		}
		d.Reach = r.slice(uint64((n + 7) / 8))
	case RoomAck:
		r.bytes(d.Peer[:])
		d.Seq = r.varint()
	case RoomGapRequest:
		r.bytes(d.Peer[:])
		d.Seq, d.To = r.varint(), r.varint()
	case RoomKeyRequest:
		r.bytes(d.Peer[:])
		d.Epoch = r.varint()
	case RoomLogRequest:
		d.Epoch = r.varint()
	case RoomHistoryRequest:
		d.Lamport = r.varint()
		r.bytes(d.Peer[:])
	case RoomHistory:
		var done [1]byte
		r.bytes(done[:])
		if r.err == nil && done[0] > 1 {
			r.err = fmt.Errorf("%w: history done flag %d", ErrMalformed, done[0])
		}
		d.Done = done[0] == 1
		n := r.count(MaxRoomBatch)
		for range n {
			var it RoomHistoryItem
			it.Header.Room = d.Room
			r.bytes(it.Header.Sender[:])
			it.Header.Epoch, it.Header.Seq, it.Header.Lamport = r.varint(), r.varint(), r.varint()
			it.Text = r.slice(r.varint())
			r.bytes(it.Sig[:])
			if r.err != nil {
				break
			}
			d.History = append(d.History, it)
		}
	case RoomForwardTo, RoomForwardedFrom:
		r.bytes(d.Peer[:])
		d.Body = r.slice(uint64(len(r.b)))
	case RoomLeave:
		d.Epoch = r.varint()
		r.bytes(d.Sig[:])
	default:
		return RoomDatagram{}, fmt.Errorf("%w: room datagram type 0x%02x", ErrType, d.Type)
	}
	if r.err != nil {
		return RoomDatagram{}, fmt.Errorf("room datagram type 0x%02x: %w", d.Type, r.err)
	}
	if len(r.b) != 0 {
		return RoomDatagram{}, fmt.Errorf("%w: %d bytes after a room datagram of type 0x%02x", ErrMalformed, len(r.b), d.Type)
	}
	return d, nil
}

// A membership log entry is signed by the room's founder and chains to the
// one before it by hash:
//
//	version | prev hash (32) | op (1) | member (32) | member sign key (32) |
//	[op create: history policy (1) | keep N] | [op topic: length | topic] | sig (64)
//
// The signature covers the domain string, the room ID and every byte before it.

// RoomOp is what a log entry does.
type RoomOp uint8

// Log operations.
const (
	RoomOpCreate RoomOp = 1 // version 1: the founder (member) founds the room
	RoomOpAdd    RoomOp = 2
	RoomOpRemove RoomOp = 3
	RoomOpTopic  RoomOp = 4 // the founder (member) sets the room's topic
)

// RoomHistoryPolicy says what history a newcomer gets.
type RoomHistoryPolicy uint8

// History policies.
const (
	RoomHistoryNone RoomHistoryPolicy = 0
	RoomHistoryLast RoomHistoryPolicy = 1 // the last KeepN messages
	RoomHistoryAll  RoomHistoryPolicy = 2
)

// RoomLogEntry is one decoded membership log entry.
type RoomLogEntry struct {
	Version  uint64
	PrevHash [32]byte
	Op       RoomOp
	Member   [RoomKeyLen]byte
	SignKey  [RoomKeyLen]byte
	Policy   RoomHistoryPolicy // create only
	KeepN    uint64            // create only, with RoomHistoryLast
	Topic    string            // topic only: UTF-8, at most MaxRoomTopic bytes
	Sig      [RoomSigLen]byte
}

// AppendRoomLogEntryBody appends e without its signature: what the founder signs.
func AppendRoomLogEntryBody(b []byte, e *RoomLogEntry) []byte {
	b = AppendVarint(b, e.Version)
	b = append(b, e.PrevHash[:]...)
	b = append(b, byte(e.Op))
	b = append(b, e.Member[:]...)
	b = append(b, e.SignKey[:]...)
	switch e.Op {
	case RoomOpCreate:
		b = append(b, byte(e.Policy))
		b = AppendVarint(b, e.KeepN)
	case RoomOpTopic:
		b = AppendVarint(b, uint64(len(e.Topic)))
		b = append(b, e.Topic...)
	}
	return b
}

// AppendRoomLogEntry appends e with its signature.
func AppendRoomLogEntry(b []byte, e *RoomLogEntry) []byte {
	return append(AppendRoomLogEntryBody(b, e), e.Sig[:]...)
}

// ParseRoomLogEntry decodes a log entry. It checks the layout, not the
// signature or the chain: the rooms core does that.
func ParseRoomLogEntry(b []byte) (RoomLogEntry, error) {
	var e RoomLogEntry
	r := roomReader{b: b}
	e.Version = r.varint()
	r.bytes(e.PrevHash[:])
	var op [1]byte
	r.bytes(op[:])
	e.Op = RoomOp(op[0])
	r.bytes(e.Member[:])
	r.bytes(e.SignKey[:])
	switch {
	case r.err != nil:
	case e.Op == RoomOpCreate:
		var p [1]byte
		r.bytes(p[:])
		e.Policy = RoomHistoryPolicy(p[0])
		e.KeepN = r.varint()
		if r.err == nil && e.Policy > RoomHistoryAll {
			r.err = fmt.Errorf("%w: history policy %d", ErrMalformed, e.Policy)
		}
	case e.Op == RoomOpTopic:
		n := r.varint()
		if r.err == nil && n > MaxRoomTopic {
			r.err = fmt.Errorf("%w: a topic of %d bytes", ErrTooBig, n)
			break
		}
		e.Topic = string(r.slice(n))
		if r.err == nil && !utf8.ValidString(e.Topic) {
			r.err = fmt.Errorf("%w: a topic that is not UTF-8", ErrMalformed)
		}
	case e.Op != RoomOpAdd && e.Op != RoomOpRemove:
		r.err = fmt.Errorf("%w: log op %d", ErrType, e.Op)
	}
	r.bytes(e.Sig[:])
	if r.err != nil {
		return RoomLogEntry{}, fmt.Errorf("room log entry: %w", r.err)
	}
	if len(r.b) != 0 {
		return RoomLogEntry{}, fmt.Errorf("%w: %d bytes after a room log entry", ErrMalformed, len(r.b))
	}
	return e, nil
}

// RoomNonce is the AEAD nonce of message seq under a sender's epoch key:
// four zero bytes and seq, big-endian. A key belongs to one sender and epoch
// and a seq is never reused by its sender, so no nonce repeats under a key.
func RoomNonce(seq uint64) [12]byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n
}
