package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// AddIncoming stores m as a message Peer sent us (its Direction, State and
// DeliveredAt are ignored; a zero At is taken as now). It is idempotent on
// (Peer, ID): a retransmission, even after a crash of either side, returns
// isNew false and changes nothing, so the caller shows m only if isNew.
//
// It is committed when AddIncoming returns, so the receiver may acknowledge
// m then: what the sender sees as delivered is on our disk.
func (s *MessageDB) AddIncoming(ctx context.Context, m Message) (isNew bool, err error) {
	if m.Peer == "" {
		return false, errors.New("store: AddIncoming: message has no peer")
	}
	res, err := s.insertMessage(ctx, incomingRow, m)
	if err != nil {
		return false, s.wrap("AddIncoming", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Key names a message a peer sent us: the peer, and the ID it chose.
type Key struct {
	Peer string
	ID   [16]byte
}

// Unshown returns the messages peers sent us that no UI has shown yet
// (see MarkShown), oldest first: those a UI stored and did not get to
// write out before it died, to show at the next start. Each peer's come
// in the order they were sent. They all lie above the shown mark.
func (s *MessageDB) Unshown(ctx context.Context) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM messages
		WHERE seq > (SELECT seq FROM shown_mark) AND direction = 1 AND shown = 0 ORDER BY seq`)
	if err != nil {
		return nil, s.wrap("Unshown", err)
	}
	ms, err := scanMessages(rows)
	if err != nil {
		return nil, s.wrap("Unshown", err)
	}
	return ms, nil
}

// MarkShown records that a UI has written out the messages keys name, in
// one transaction. Unknown keys are ignored. A crash before it commits
// leaves them unshown, and they are shown again at the next start: shown
// at least once is the promise, and a consumer that must not see one twice
// tells them apart by ID.
//
// A UI shows messages in the order they were stored, so keys are usually
// the oldest unshown messages: then the shown mark (schema 11) moves past
// them with one UPDATE, not one row rewritten a message. Keys that do not
// follow on from the mark are flagged one by one.
func (s *MessageDB) MarkShown(ctx context.Context, keys []Key) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rest, err := advanceShownMark(ctx, tx, keys)
		if err != nil || len(rest) == 0 {
			return err
		}
		// One statement for up to rowsPerInsert keys, not one a key: a
		// burst of a thousand lines is marked by two.
		for start := 0; start < len(rest); start += rowsPerInsert {
			part := rest[start:min(start+rowsPerInsert, len(rest))]
			args := make([]any, 0, 2*len(part))
			for _, k := range part {
				args = append(args, k.Peer, k.ID[:])
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET shown = 1 WHERE direction = 1 AND shown = 0
				AND (peer, id) IN (VALUES (?, ?)`+strings.Repeat(", (?, ?)", len(part)-1)+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.wrap("MarkShown", err)
	}
	return nil
}

// advanceShownMark moves the shown mark over the received messages above
// it that are among keys or already flagged shown, in seq order, up to the
// first that is neither. It returns the keys it did not pass, to be
// flagged: none if it got past every received message, as then the rest
// name no unshown message.
func advanceShownMark(ctx context.Context, tx *sql.Tx, keys []Key) (rest []Key, err error) {
	want := make(map[Key]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, peer, id, shown FROM messages
		WHERE seq > (SELECT seq FROM shown_mark) AND direction = 1 ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	mark, stopped := int64(-1), false
	for rows.Next() {
		var (
			seq   int64
			k     Key
			id    []byte
			shown bool
		)
		if err := rows.Scan(&seq, &k.Peer, &id, &shown); err != nil {
			return nil, err
		}
		copy(k.ID[:], id)
		if !shown && (len(id) != len(k.ID) || !want[k]) {
			stopped = true
			break
		}
		delete(want, k)
		mark = seq
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if mark >= 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE shown_mark SET seq = ?`, mark); err != nil {
			return nil, err
		}
	}
	if !stopped {
		return nil, nil
	}
	for _, k := range keys {
		if want[k] {
			rest = append(rest, k)
		}
	}
	return rest, nil
}
