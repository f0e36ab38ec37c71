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
// in the order they were sent.
func (s *MessageDB) Unshown(ctx context.Context) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+columns+` FROM messages WHERE direction = 1 AND shown = 0 ORDER BY seq`)
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
func (s *MessageDB) MarkShown(ctx context.Context, keys []Key) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// One statement for up to rowsPerInsert keys, not one a key: a
		// burst of a thousand lines is marked by two.
		for start := 0; start < len(keys); start += rowsPerInsert {
			part := keys[start:min(start+rowsPerInsert, len(keys))]
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
