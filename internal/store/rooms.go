package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The rooms' tables (schemas 6 and 10) keep what the rooms core needs across
// restarts, by value: the store interprets none of it. Each write is one
// transaction, committed when it returns (so the core may then acknowledge
// or send what it stored); AddRoom writes a room and its log in one.
//
// The types are the store's own, plain ones: the store is below the layers
// that know rooms (internal/rooms/roomstore turns them into the core's).

var (
	// ErrNoRoom is returned for a write to a room AddRoom never added.
	ErrNoRoom = errors.New("store: no such room")
	// ErrRoomExists is returned by AddRoom for a room it added before.
	ErrRoomExists = errors.New("store: room already added")
)

// Room is a room's record: what is not in its log, keys or messages.
type Room struct {
	ID [16]byte
	// HistoryDone: the history this user was owed as a newcomer has all
	// arrived. CursorLamport and CursorSender are the order key of the
	// last history item received.
	HistoryDone   bool
	CursorLamport uint64
	CursorSender  [32]byte
	// Leaving (schema 10): the user left the room and waits for its
	// founder's removal.
	Leaving bool
}

// RoomKey is a member's sender key for one membership epoch, with its
// signed announcement. It is a secret.
type RoomKey struct {
	Sender    [32]byte
	Epoch     uint64
	PrevEpoch uint64
	FirstSeq  uint64
	Key       [32]byte
	Sig       [64]byte
}

// RoomMessage is a room message, decrypted and verified; (Sender, Seq)
// names it in its room.
type RoomMessage struct {
	Sender  [32]byte
	Seq     uint64
	Epoch   uint64
	Lamport uint64
	Text    []byte
	Sig     [64]byte
	History bool // it arrived as history, not live
}

// RoomDelivery says Member has Sender's messages up to and including seq
// Head on its disk.
type RoomDelivery struct {
	Member, Sender [32]byte
	Head           uint64
}

// AddRoom keeps a room the user founded or joined, with its membership log
// so far (entries of versions 1, 2, …), in one transaction: a crash leaves
// the whole room or none of it, never a room whose log lacks the entry that
// made the user a member. A room added before is ErrRoomExists.
func (s *MessageDB) AddRoom(ctx context.Context, r Room, log [][]byte) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO room_rooms (room, history_done, cursor_lamport, cursor_sender, leaving) VALUES (?, ?, ?, ?, ?)`,
			r.ID[:], r.HistoryDone, int64(r.CursorLamport), r.CursorSender[:], r.Leaving)
		if hasCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			return fmt.Errorf("%x: %w", r.ID, ErrRoomExists)
		}
		if err != nil {
			return err
		}
		for i, entry := range log {
			if _, err := tx.ExecContext(ctx, `INSERT INTO room_log (room, version, entry) VALUES (?, ?, ?)`, r.ID[:], i+1, entry); err != nil {
				return err
			}
		}
		return nil
	})
	return s.roomError("AddRoom", err)
}

// Rooms returns every room's record, in the order they were added.
func (s *MessageDB) Rooms(ctx context.Context) ([]Room, error) {
	rooms, err := collect(ctx, s.db, func(rows *sql.Rows) (Room, error) {
		var r Room
		var id, cursor []byte
		var lamport int64
		err := rows.Scan(&id, &r.HistoryDone, &lamport, &cursor, &r.Leaving)
		copy(r.ID[:], id)
		copy(r.CursorSender[:], cursor)
		r.CursorLamport = uint64(lamport)
		return r, err
	}, `SELECT room, history_done, cursor_lamport, cursor_sender, leaving FROM room_rooms ORDER BY rowid`)
	return rooms, s.roomError("Rooms", err)
}

// PutRoom replaces a room's record.
func (s *MessageDB) PutRoom(ctx context.Context, r Room) error {
	res, err := s.db.ExecContext(ctx, `UPDATE room_rooms SET history_done = ?, cursor_lamport = ?, cursor_sender = ?, leaving = ? WHERE room = ?`,
		r.HistoryDone, int64(r.CursorLamport), r.CursorSender[:], r.Leaving, r.ID[:])
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = fmt.Errorf("%x: %w", r.ID, ErrNoRoom)
		}
	}
	return s.roomError("PutRoom", err)
}

// AppendRoomLog adds entry to the room's log, as the version after its
// last.
func (s *MessageDB) AppendRoomLog(ctx context.Context, room [16]byte, entry []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO room_log (room, version, entry)
		SELECT ?1, coalesce(max(version), 0) + 1, ?2 FROM room_log WHERE room = ?1`, room[:], entry)
	return s.roomError("AppendRoomLog", err)
}

// RoomLog returns the room's log entries in version order.
func (s *MessageDB) RoomLog(ctx context.Context, room [16]byte) ([][]byte, error) {
	log, err := collect(ctx, s.db, func(rows *sql.Rows) ([]byte, error) {
		var e []byte
		return e, rows.Scan(&e)
	}, `SELECT entry FROM room_log WHERE room = ? ORDER BY version`, room[:])
	return log, s.roomError("RoomLog", err)
}

// PutRoomKey keeps a sender key. One the room has for that sender and
// epoch already stays as it is.
func (s *MessageDB) PutRoomKey(ctx context.Context, room [16]byte, k RoomKey) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO room_keys (room, sender, epoch, prev_epoch, first_seq, key, sig)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, sender, epoch) DO NOTHING`,
		room[:], k.Sender[:], int64(k.Epoch), int64(k.PrevEpoch), int64(k.FirstSeq), k.Key[:], k.Sig[:])
	return s.roomError("PutRoomKey", err)
}

// RoomKeys returns the room's sender keys, by sender and epoch.
func (s *MessageDB) RoomKeys(ctx context.Context, room [16]byte) ([]RoomKey, error) {
	ks, err := collect(ctx, s.db, func(rows *sql.Rows) (RoomKey, error) {
		var k RoomKey
		var sender, key, sig []byte
		var epoch, prev, first int64
		err := rows.Scan(&sender, &epoch, &prev, &first, &key, &sig)
		copy(k.Sender[:], sender)
		copy(k.Key[:], key)
		copy(k.Sig[:], sig)
		k.Epoch, k.PrevEpoch, k.FirstSeq = uint64(epoch), uint64(prev), uint64(first)
		return k, err
	}, `SELECT sender, epoch, prev_epoch, first_seq, key, sig FROM room_keys WHERE room = ? ORDER BY sender, epoch`, room[:])
	return ks, s.roomError("RoomKeys", err)
}

// AddRoomMessage keeps m. It is idempotent on (Sender, Seq): the same
// message again returns isNew false and changes nothing. (Only that
// conflict is ignored: INSERT OR IGNORE would also drop, silently, a row
// that breaks another constraint, and the core would acknowledge a message
// it does not have.)
func (s *MessageDB) AddRoomMessage(ctx context.Context, room [16]byte, m RoomMessage) (isNew bool, err error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO room_messages (room, sender, seq, epoch, lamport, text, sig, history)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, sender, seq) DO NOTHING`,
		room[:], m.Sender[:], int64(m.Seq), int64(m.Epoch), int64(m.Lamport), nonNil(m.Text), m.Sig[:], m.History)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	return n == 1, s.roomError("AddRoomMessage", err)
}

// RoomMessages returns the room's messages in its agreed order: by Lamport
// clock, then sender, then seq.
func (s *MessageDB) RoomMessages(ctx context.Context, room [16]byte) ([]RoomMessage, error) {
	ms, err := collect(ctx, s.db, func(rows *sql.Rows) (RoomMessage, error) {
		var m RoomMessage
		var sender, sig []byte
		var seq, epoch, lamport int64
		err := rows.Scan(&sender, &seq, &epoch, &lamport, &m.Text, &sig, &m.History)
		copy(m.Sender[:], sender)
		copy(m.Sig[:], sig)
		m.Seq, m.Epoch, m.Lamport = uint64(seq), uint64(epoch), uint64(lamport)
		return m, err
	}, `SELECT sender, seq, epoch, lamport, text, sig, history FROM room_messages WHERE room = ? ORDER BY lamport, sender, seq`, room[:])
	return ms, s.roomError("RoomMessages", err)
}

// PutRoomDelivery records d. Heads only grow: a smaller head than the one
// kept (an old status that arrived late) changes nothing.
func (s *MessageDB) PutRoomDelivery(ctx context.Context, room [16]byte, d RoomDelivery) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO room_delivery (room, member, sender, head) VALUES (?, ?, ?, ?)
		ON CONFLICT (room, member, sender) DO UPDATE SET head = max(head, excluded.head)`,
		room[:], d.Member[:], d.Sender[:], int64(d.Head))
	return s.roomError("PutRoomDelivery", err)
}

// RoomDeliveries returns the room's delivery heads, by member and sender.
func (s *MessageDB) RoomDeliveries(ctx context.Context, room [16]byte) ([]RoomDelivery, error) {
	ds, err := collect(ctx, s.db, func(rows *sql.Rows) (RoomDelivery, error) {
		var d RoomDelivery
		var member, sender []byte
		var head int64
		err := rows.Scan(&member, &sender, &head)
		copy(d.Member[:], member)
		copy(d.Sender[:], sender)
		d.Head = uint64(head)
		return d, err
	}, `SELECT member, sender, head FROM room_delivery WHERE room = ? ORDER BY member, sender`, room[:])
	return ds, s.roomError("RoomDeliveries", err)
}

// roomError is err for the caller of op: a write to a room never added is
// ErrNoRoom (the foreign key says so), and the driver's errors are wrapped.
func (s *MessageDB) roomError(op string, err error) error {
	switch {
	case err == nil, errors.Is(err, ErrNoRoom), errors.Is(err, ErrRoomExists):
		return err
	case hasCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return fmt.Errorf("store: %s: %w", op, ErrNoRoom)
	}
	return s.wrap(op, err)
}

// hasCode reports whether err is SQLite's error with that extended code.
func hasCode(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// nonNil is b, or an empty slice for nil: the driver stores a nil []byte as
// NULL, and an empty message is text of length 0.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// collect runs query and scans each row with scan.
func collect[T any](ctx context.Context, db *sql.DB, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// RoomInvitation is an invitation waiting for the user's consent (schema
// 10): the room, the label it came with, and its log datagram as it came.
type RoomInvitation struct {
	ID    [16]byte
	Label string
	Log   []byte
}

// PutRoomInvitation keeps an invitation, replacing one to the same room
// (which keeps its place in the order).
func (s *MessageDB) PutRoomInvitation(ctx context.Context, inv RoomInvitation) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO room_invitations (room, label, log) VALUES (?, ?, ?)
		ON CONFLICT (room) DO UPDATE SET label = excluded.label, log = excluded.log`, inv.ID[:], inv.Label, nonNil(inv.Log))
	return s.roomError("PutRoomInvitation", err)
}

// RoomInvitations returns the invitations kept, in the order they came.
func (s *MessageDB) RoomInvitations(ctx context.Context) ([]RoomInvitation, error) {
	invs, err := collect(ctx, s.db, func(rows *sql.Rows) (RoomInvitation, error) {
		var inv RoomInvitation
		var id []byte
		err := rows.Scan(&id, &inv.Label, &inv.Log)
		copy(inv.ID[:], id)
		return inv, err
	}, `SELECT room, label, log FROM room_invitations ORDER BY rowid`)
	return invs, s.roomError("RoomInvitations", err)
}

// DropRoomInvitation forgets the invitation to room, if there is one.
func (s *MessageDB) DropRoomInvitation(ctx context.Context, room [16]byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM room_invitations WHERE room = ?`, room[:])
	return s.roomError("DropRoomInvitation", err)
}
