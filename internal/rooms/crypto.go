package rooms

import (
	"crypto/ed25519"
	"fmt"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// Domain strings: every signature says what it signs, so one kind can never
// pass for another.
const (
	ctxBinding = "udpchat room binding v1"
	ctxLog     = "udpchat room log v1"
	ctxKey     = "udpchat room key v1"
	ctxMessage = "udpchat room message v1"
	ctxLeave   = "udpchat room leave v1"
)

// BindingSig signs self's Noise key with sign: the proof, announced over the
// authenticated pairwise session, that the Ed25519 key speaks for that
// Noise key.
func bindingSig(sign ed25519.PrivateKey, self keys.PublicKey) []byte {
	return ed25519.Sign(sign, append([]byte(ctxBinding), self[:]...))
}

func verifyBinding(signKey [32]byte, noise keys.PublicKey, sig []byte) bool {
	return ed25519.Verify(signKey[:], append([]byte(ctxBinding), noise[:]...), sig)
}

func logSigned(room RoomID, e *wire.RoomLogEntry) []byte {
	b := append([]byte(ctxLog), room[:]...)
	return wire.AppendRoomLogEntryBody(b, e)
}

// leaveSigned is what a member signs to ask to be removed: the room, itself
// and the version that last added it.
func leaveSigned(room RoomID, member keys.PublicKey, added uint64) []byte {
	b := append([]byte(ctxLeave), room[:]...)
	b = append(b, member[:]...)
	return wire.AppendVarint(b, added)
}

func entryHash(raw []byte) [32]byte { return blake2b.Sum256(raw) }

// SenderKey is one member's key for one membership epoch, as announced
// (and signed) by that member.
type SenderKey struct {
	Sender    keys.PublicKey
	Epoch     uint64 // the membership version it was made for
	PrevEpoch uint64 // the sender's epoch before it; 0 for its first
	FirstSeq  uint64 // the first seq the sender sends under it
	Key       [32]byte
	Sig       [64]byte
}

func keySigned(room RoomID, k *SenderKey) []byte {
	b := append([]byte(ctxKey), room[:]...)
	b = append(b, k.Sender[:]...)
	b = wire.AppendVarint(b, k.Epoch)
	b = wire.AppendVarint(b, k.PrevEpoch)
	b = wire.AppendVarint(b, k.FirstSeq)
	return append(b, k.Key[:]...)
}

func (k *SenderKey) datagram(room RoomID) *wire.RoomDatagram {
	return &wire.RoomDatagram{Type: wire.RoomKey, Room: room, Peer: k.Sender, Epoch: k.Epoch,
		PrevEpoch: k.PrevEpoch, Seq: k.FirstSeq, Key: k.Key, Sig: k.Sig}
}

func (m *Message) header() wire.RoomMsgHeader {
	return wire.RoomMsgHeader{Room: m.Room, Sender: m.ID.Sender, Epoch: m.Epoch, Seq: m.ID.Seq, Lamport: m.Lamport}
}

func messageSigned(h *wire.RoomMsgHeader, text []byte) []byte {
	b := wire.AppendRoomMsgHeader([]byte(ctxMessage), h)
	return append(b, text...)
}

// seal encrypts m (its text and signature) under its sender's epoch key,
// with the clear header as associated data: the message datagram.
func seal(key [32]byte, m *Message) ([]byte, error) {
	aead, err := chacha20poly1305.New(key[:])
	if err != nil {
		return nil, err
	}
	h := m.header()
	d := wire.RoomDatagram{Type: wire.RoomMessage, Room: m.Room, Peer: m.ID.Sender, Epoch: m.Epoch, Seq: m.ID.Seq, Lamport: m.Lamport}
	out, err := wire.AppendRoom(nil, &d)
	if err != nil {
		return nil, err
	}
	plain := append(append([]byte(nil), m.Text...), m.Sig[:]...)
	nonce := wire.RoomNonce(m.ID.Seq)
	return aead.Seal(out, nonce[:], plain, wire.AppendRoomMsgHeader(nil, &h)), nil
}

// open decrypts a message datagram and checks its sender's signature.
func open(key [32]byte, signKey [32]byte, d *wire.RoomDatagram) (Message, error) {
	aead, err := chacha20poly1305.New(key[:])
	if err != nil {
		return Message{}, err
	}
	h := wire.RoomMsgHeader{Room: d.Room, Sender: d.Peer, Epoch: d.Epoch, Seq: d.Seq, Lamport: d.Lamport}
	nonce := wire.RoomNonce(d.Seq)
	plain, err := aead.Open(nil, nonce[:], d.Body, wire.AppendRoomMsgHeader(nil, &h))
	if err != nil || len(plain) < ed25519.SignatureSize {
		return Message{}, fmt.Errorf("%w: does not decrypt", ErrForged)
	}
	m := Message{Room: d.Room, ID: MessageID{Sender: d.Peer, Seq: d.Seq}, Epoch: d.Epoch, Lamport: d.Lamport}
	split := len(plain) - ed25519.SignatureSize
	m.Text = plain[:split]
	copy(m.Sig[:], plain[split:])
	if !ed25519.Verify(signKey[:], messageSigned(&h, m.Text), m.Sig[:]) {
		return Message{}, fmt.Errorf("%w: bad signature", ErrForged)
	}
	return m, nil
}
