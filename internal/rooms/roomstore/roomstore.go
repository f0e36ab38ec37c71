// Package roomstore is the rooms core's Storage on udpchat's database: it
// turns rooms.Storage's calls into internal/store's room methods (schemas 6
// and 10) and back. It sits between the two because neither may know the other:
// the store is below every layer that knows rooms, and the core does no
// I/O.
package roomstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/store"
)

// Storage is a rooms.Storage kept in a store.MessageDB. Every write is
// committed (synced, as the database's other writes are) when it returns;
// it is safe for concurrent use, as the database is.
type Storage struct {
	db *store.MessageDB
}

var _ rooms.Storage = (*Storage)(nil)

// New returns the Storage in db, which stays the caller's to close.
func New(db *store.MessageDB) *Storage { return &Storage{db: db} }

// ctx is the context of every call: rooms.Storage's methods take none, as
// the core calls them under its lock and waits for each; the database's
// busy timeout bounds them.
var ctx = context.Background()

// noRoom makes the store's ErrNoRoom the core's too.
func noRoom(err error) error {
	if errors.Is(err, store.ErrNoRoom) {
		return fmt.Errorf("%w (%w)", rooms.ErrNoRoom, err)
	}
	return err
}

func (s *Storage) AddRoom(rec rooms.RoomRecord, log [][]byte) error {
	return s.db.AddRoom(ctx, toRoom(rec), log)
}

func (s *Storage) Rooms() ([]rooms.RoomRecord, error) {
	rs, err := s.db.Rooms(ctx)
	out := make([]rooms.RoomRecord, len(rs))
	for i, r := range rs {
		out[i] = rooms.RoomRecord{ID: r.ID, HistoryDone: r.HistoryDone, Leaving: r.Leaving,
			HistoryCursor: rooms.Order{Lamport: r.CursorLamport, Sender: r.CursorSender}}
	}
	return out, err
}

func (s *Storage) PutRoom(rec rooms.RoomRecord) error {
	return noRoom(s.db.PutRoom(ctx, toRoom(rec)))
}

func toRoom(rec rooms.RoomRecord) store.Room {
	return store.Room{ID: rec.ID, HistoryDone: rec.HistoryDone, Leaving: rec.Leaving,
		CursorLamport: rec.HistoryCursor.Lamport, CursorSender: rec.HistoryCursor.Sender}
}

func (s *Storage) AppendLog(room rooms.RoomID, entry []byte) error {
	return noRoom(s.db.AppendRoomLog(ctx, room, entry))
}

func (s *Storage) Log(room rooms.RoomID) ([][]byte, error) {
	return s.db.RoomLog(ctx, room)
}

func (s *Storage) PutKey(room rooms.RoomID, k rooms.SenderKey) error {
	return noRoom(s.db.PutRoomKey(ctx, room, store.RoomKey{Sender: k.Sender, Epoch: k.Epoch, PrevEpoch: k.PrevEpoch,
		FirstSeq: k.FirstSeq, Key: k.Key, Sig: k.Sig}))
}

func (s *Storage) Keys(room rooms.RoomID) ([]rooms.SenderKey, error) {
	ks, err := s.db.RoomKeys(ctx, room)
	out := make([]rooms.SenderKey, len(ks))
	for i, k := range ks {
		out[i] = rooms.SenderKey{Sender: k.Sender, Epoch: k.Epoch, PrevEpoch: k.PrevEpoch, FirstSeq: k.FirstSeq, Key: k.Key, Sig: k.Sig}
	}
	return out, err
}

func (s *Storage) PutMessage(m rooms.Message) error {
	_, err := s.db.AddRoomMessage(ctx, m.Room, store.RoomMessage{Sender: m.ID.Sender, Seq: m.ID.Seq,
		Epoch: m.Epoch, Lamport: m.Lamport, Text: m.Text, Sig: m.Sig, History: m.History})
	return noRoom(err)
}

func (s *Storage) Messages(room rooms.RoomID) ([]rooms.Message, error) {
	ms, err := s.db.RoomMessages(ctx, room)
	out := make([]rooms.Message, len(ms))
	for i, m := range ms {
		out[i] = rooms.Message{Room: room, ID: rooms.MessageID{Sender: m.Sender, Seq: m.Seq},
			Epoch: m.Epoch, Lamport: m.Lamport, Text: m.Text, Sig: m.Sig, History: m.History}
	}
	return out, err
}

func (s *Storage) PutDelivery(room rooms.RoomID, d rooms.Delivery) error {
	return noRoom(s.db.PutRoomDelivery(ctx, room, store.RoomDelivery{Member: d.Member, Sender: d.Sender, Head: d.Head}))
}

func (s *Storage) Deliveries(room rooms.RoomID) ([]rooms.Delivery, error) {
	ds, err := s.db.RoomDeliveries(ctx, room)
	out := make([]rooms.Delivery, len(ds))
	for i, d := range ds {
		out[i] = rooms.Delivery{Member: d.Member, Sender: d.Sender, Head: d.Head}
	}
	return out, err
}

func (s *Storage) PutInvitation(inv rooms.Invitation) error {
	return s.db.PutRoomInvitation(ctx, store.RoomInvitation{ID: inv.Room, Label: inv.Label, Log: inv.Log})
}

func (s *Storage) Invitations() ([]rooms.Invitation, error) {
	invs, err := s.db.RoomInvitations(ctx)
	out := make([]rooms.Invitation, len(invs))
	for i, inv := range invs {
		out[i] = rooms.Invitation{Room: inv.ID, Label: inv.Label, Log: inv.Log}
	}
	return out, err
}

func (s *Storage) DropInvitation(room rooms.RoomID) error { return s.db.DropRoomInvitation(ctx, room) }
