package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// AddOutgoing stores m as a Pending outgoing message (its Direction, State
// and DeliveredAt are ignored; a zero At is taken as now).
//
// The outbox rule is that a message is written before its first datagram
// leaves, so it is committed when AddOutgoing returns: a crash after that
// leaves it Pending, and the next start sends it again. Reusing an ID for
// the same peer is ErrDuplicate.
func (s *MessageDB) AddOutgoing(ctx context.Context, m Message) error {
	if m.Peer == "" {
		return errors.New("store: AddOutgoing: message has no peer")
	}
	_, err := s.insertMessage(ctx, outgoingRow, m)
	if isConstraint(err) {
		return fmt.Errorf("store: AddOutgoing %x to %s: %w", m.ID, m.Peer, ErrDuplicate)
	}
	if err != nil {
		return s.wrap("AddOutgoing", err)
	}
	return nil
}

// AddSent stores m as an outgoing message that was sent on a link with no
// acknowledgements (plain mode), State Sent: it is history only, so Pending
// never lists it and no later start sends it again. Its Direction, State
// and DeliveredAt are ignored; a zero At is taken as now. Reusing an ID for
// the same peer is ErrDuplicate.
func (s *MessageDB) AddSent(ctx context.Context, m Message) error {
	if m.Peer == "" {
		return errors.New("store: AddSent: message has no peer")
	}
	_, err := s.insertMessage(ctx, sentRow, m)
	if isConstraint(err) {
		return fmt.Errorf("store: AddSent %x to %s: %w", m.ID, m.Peer, ErrDuplicate)
	}
	if err != nil {
		return s.wrap("AddSent", err)
	}
	return nil
}

// MarkDelivered records that peer acknowledged our message id, now. It is
// idempotent: acknowledgements may repeat, and the first one's time is
// kept. A Cancelled message becomes Delivered too, since the peer has it
// after all (the cancel lost a race with the acknowledgement), and so does
// a Sent one. An unknown message is ErrNotFound.
func (s *MessageDB) MarkDelivered(ctx context.Context, peer string, id [16]byte) error {
	return s.markDelivered(ctx, "MarkDelivered", byAddress(peer), id)
}

// MarkDeliveredBy is MarkDelivered for a message stored with its person:
// the acknowledgement counts whatever address of theirs it came from.
func (s *MessageDB) MarkDeliveredBy(ctx context.Context, person [32]byte, id [16]byte) error {
	return s.markDelivered(ctx, "MarkDeliveredBy", byPerson(person), id)
}

// MarkHeldBy records that a relay holds our Pending message id to person in
// their mailbox, now. It stays Pending; a message that is no longer (it was
// delivered or cancelled meanwhile) is left as it is, and an unknown one is
// ErrNotFound.
func (s *MessageDB) MarkHeldBy(ctx context.Context, person [32]byte, id [16]byte) error {
	to := byPerson(person)
	res, err := s.db.ExecContext(ctx,
		`UPDATE messages SET held_at = ? WHERE person = ? AND direction = 0 AND id = ? AND state = 0`,
		s.now().UnixNano(), to.value, id[:])
	if err != nil {
		return s.wrap("MarkHeldBy", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if _, err := s.stateOf(ctx, s.db, to, id); err != nil {
		return fmt.Errorf("store: MarkHeldBy: %w", err)
	}
	return nil
}

func (s *MessageDB) markDelivered(ctx context.Context, op string, to recipient, id [16]byte) error {
	unmarked, err := s.markDeliveredIn(ctx, s.db, op, to, id)
	return cmp.Or(err, unmarked)
}

// markDeliveredIn is markDelivered in q. It tells a message that cannot be
// marked (unknown, or neither Pending, Cancelled nor Sent: unmarked) from
// a database that failed (err), which a transaction must not commit past.
func (s *MessageDB) markDeliveredIn(ctx context.Context, q querier, op string, to recipient, id [16]byte) (unmarked, err error) {
	res, err := q.ExecContext(ctx,
		`UPDATE messages SET state = 1, delivered_at = ?
		 WHERE `+to.column+` = ? AND direction = 0 AND id = ? AND state IN (0, 2, 4)`,
		s.now().UnixNano(), to.value, id[:])
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return nil, err
	}
	switch st, err := s.stateOf(ctx, q, to, id); {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("store: %s: %w", op, err), nil
	case err != nil:
		return nil, fmt.Errorf("store: %s: %w", op, err)
	case st != Delivered:
		return fmt.Errorf("store: %s %x to %s: is %v", op, id, to, st), nil
	}
	return nil, nil
}

// recipient names the other side of our messages: by address (the peer
// column) or by key (person).
type recipient struct {
	column string
	value  any
	name   string // for errors
}

func byAddress(peer string) recipient { return recipient{"peer", peer, peer} }

func byPerson(person [32]byte) recipient {
	return recipient{"person", person[:], fmt.Sprintf("person %x", person[:8])}
}

func (r recipient) String() string { return r.name }

// Cancel gives up on our Pending message id to peer: it stays in the
// history, marked Cancelled, and Pending no longer lists it. A message that
// is not Pending is ErrNotPending, an unknown one ErrNotFound.
func (s *MessageDB) Cancel(ctx context.Context, peer string, id [16]byte) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE messages SET state = 2 WHERE peer = ? AND direction = 0 AND id = ? AND state = 0`,
		peer, id[:])
	if err != nil {
		return s.wrap("Cancel", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	st, err := s.state(ctx, peer, id)
	if err != nil {
		return fmt.Errorf("store: Cancel: %w", err)
	}
	return fmt.Errorf("store: Cancel %x to %s: it is %v: %w", id, peer, st, ErrNotPending)
}

// CancelPeer cancels every Pending message to peer, as Cancel does one,
// and returns how many it cancelled: how a user drops a peer that will
// never answer (udpchat history --cancel-peer, /forget).
func (s *MessageDB) CancelPeer(ctx context.Context, peer string) (int, error) {
	res, err := s.db.ExecContext(ctx,
		`UPDATE messages SET state = 2 WHERE peer = ? AND direction = 0 AND state = 0`, peer)
	if err != nil {
		return 0, s.wrap("CancelPeer", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap("CancelPeer", err)
	}
	return int(n), nil
}

// state is the state of our message id to peer, or ErrNotFound.
func (s *MessageDB) state(ctx context.Context, peer string, id [16]byte) (State, error) {
	return s.stateOf(ctx, s.db, byAddress(peer), id)
}

// stateOf is the state of our message id to to, or ErrNotFound.
func (s *MessageDB) stateOf(ctx context.Context, q querier, to recipient, id [16]byte) (State, error) {
	var st State
	err := q.QueryRowContext(ctx,
		`SELECT state FROM messages WHERE `+to.column+` = ? AND direction = 0 AND id = ?`, to.value, id[:]).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%x to %s: %w", id, to, ErrNotFound)
	}
	if err != nil {
		return 0, s.wrap("state", err)
	}
	return st, nil
}

// Pending returns every Pending outgoing message, oldest first: in the
// order AddOutgoing stored them, so each peer's messages keep their order
// when they are sent again.
func (s *MessageDB) Pending(ctx context.Context) ([]Message, error) {
	return s.pending(ctx, "Pending", "state = 0")
}

// PendingTo returns the Pending outgoing messages to person, oldest first,
// as Pending does for everyone: what waits for one person, wherever they
// are now. Rows whose person is not known (see Message.Person) are not in
// it.
func (s *MessageDB) PendingTo(ctx context.Context, person [32]byte) ([]Message, error) {
	return s.pending(ctx, "PendingTo", "person = ? AND state = 0", person[:])
}

// pending returns the messages where selects, in the order they were
// stored; op names the caller in errors.
func (s *MessageDB) pending(ctx context.Context, op, where string, args ...any) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+columns+` FROM messages WHERE `+where+` ORDER BY seq`, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	ms, err := scanMessages(rows)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return ms, nil
}
