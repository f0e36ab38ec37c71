package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Direction says who sent a message. Its values are stored: never renumber
// them.
type Direction int

const (
	Outgoing Direction = 0 // we sent it to Peer
	Incoming Direction = 1 // Peer sent it to us
)

func (d Direction) String() string {
	switch d {
	case Outgoing:
		return "outgoing"
	case Incoming:
		return "incoming"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// State is where a message is in its life. Outgoing messages start Pending
// and become Delivered or Cancelled; those the outbox does not keep (plain
// mode, where nothing is acknowledged, or a peer that is not kept: see
// chat.Sent.Kept) are Sent, and become Delivered if the peer acknowledges
// them while we run. Incoming ones are always Received. Its values are
// stored: never renumber them.
//
//	AddOutgoing → Pending ─MarkDelivered→ Delivered
//	                  └──────Cancel─────→ Cancelled ─MarkDelivered→ Delivered
//	AddSent     → Sent ────MarkDelivered→ Delivered
type State int

const (
	Pending   State = 0
	Delivered State = 1
	Cancelled State = 2
	Received  State = 3
	// Sent (schema 3) is an outgoing message that nothing will
	// acknowledge: history, never outbox.
	Sent State = 4
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Cancelled:
		return "cancelled"
	case Received:
		return "received"
	case Sent:
		return "sent"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Message is one chat message as stored.
type Message struct {
	// ID is chosen by the sender, at random; with Peer and Direction it
	// names the message.
	ID [16]byte
	// Peer is the other side: the recipient of an outgoing message, the
	// sender of an incoming one: the address ("127.0.0.1:9002") it was
	// exchanged at, kept so that the history by address stays readable;
	// Person says who it is. The store only compares it.
	Peer      string
	Direction Direction
	// Kind is the payload kind (as wire.ChatKind: 2 text, 3 action),
	// stored and returned, not interpreted.
	Kind int
	// Name is the sender's display name when it was sent.
	Name string
	Text string
	// At is when it was sent (outgoing) or received (incoming).
	At    time.Time
	State State
	// DeliveredAt is when an outgoing message was acknowledged; zero until
	// then.
	DeliveredAt time.Time
	// HeldAt is when a relay said it holds a Pending outgoing message in
	// the recipient's mailbox (schema 8); zero if none does.
	HeldAt time.Time
	// Person is the other side's public key (schema 5), zero where it is
	// not known: rows stored by address only, before AssignPeople maps
	// them or when their address maps to no key. No peer's key is all
	// zeros (X25519 rejects it), so zero cannot be mistaken for one.
	Person [32]byte
}

// columns are what scanMessage reads, in its order.
const columns = "peer, id, direction, kind, name, text, at, state, delivered_at, person, held_at"

func prefixColumns(p string) string {
	return p + strings.ReplaceAll(columns, ", ", ", "+p)
}

func scanMessages(rows *sql.Rows) ([]Message, error) {
	defer rows.Close()
	var ms []Message
	for rows.Next() {
		var (
			m         Message
			id        []byte
			at        int64
			delivered sql.NullInt64
			held      sql.NullInt64
			person    []byte
		)
		if err := rows.Scan(&m.Peer, &id, &m.Direction, &m.Kind, &m.Name, &m.Text, &at, &m.State, &delivered, &person, &held); err != nil {
			return nil, err
		}
		if len(id) != len(m.ID) {
			return nil, fmt.Errorf("message ID of %d bytes: %w", len(id), ErrCorrupt)
		}
		copy(m.ID[:], id)
		if person != nil && len(person) != len(m.Person) {
			return nil, fmt.Errorf("person key of %d bytes: %w", len(person), ErrCorrupt)
		}
		copy(m.Person[:], person)
		m.At = time.Unix(0, at)
		if delivered.Valid {
			m.DeliveredAt = time.Unix(0, delivered.Int64)
		}
		if held.Valid {
			m.HeldAt = time.Unix(0, held.Int64)
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// rowKind is how a kind of message row is added: the INSERT of a message
// known by address alone, which every schema takes, and of one with its
// person. Their arguments are peer, id, kind, name, text, at and then the
// person's key.
type rowKind struct {
	byAddress, withPerson string
	// head, row and onConflict make an INSERT of many rows, each with
	// its person or NULL: head, then row once for each, then onConflict.
	head, row, onConflict string
}

var (
	outgoingRow = newRowKind("direction, state", "0, 0", "")
	sentRow     = newRowKind("direction, state", "0, 4", "")
	// Any conflict: on (peer, direction, id), or on (person, direction,
	// id) for a retransmission from another of the person's addresses.
	incomingRow = newRowKind("direction, state, shown", "1, 3, 0", " ON CONFLICT DO NOTHING")
)

// newRowKind is the rowKind whose rows have the columns fixed set to
// values, and then onConflict.
func newRowKind(fixed, values, onConflict string) rowKind {
	insert := func(cols, params string) string {
		return "INSERT INTO messages (peer, id, kind, name, text, at, " + fixed + cols +
			") VALUES (?, ?, ?, ?, ?, ?, " + values + params + ")" + onConflict
	}
	return rowKind{
		byAddress: insert("", ""), withPerson: insert(", person", ", ?"),
		head:       "INSERT INTO messages (peer, id, kind, name, text, at, " + fixed + ", person) VALUES ",
		row:        "(?, ?, ?, ?, ?, ?, " + values + ", ?)",
		onConflict: onConflict,
	}
}

// insertMessage adds m as a row of kind k.
func (s *MessageDB) insertMessage(ctx context.Context, k rowKind, m Message) (sql.Result, error) {
	return s.insertMessageIn(ctx, s.db, k, m)
}

// querier is what a statement runs in: the database (its own commit) or
// an open transaction (a commit shared with others, see CommitBurst).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertMessageIn adds m as a row of kind k, in q.
func (s *MessageDB) insertMessageIn(ctx context.Context, q querier, k rowKind, m Message) (sql.Result, error) {
	at := s.unixNano(m.At)
	if m.Person == ([32]byte{}) {
		return q.ExecContext(ctx, k.byAddress, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, at)
	}
	return q.ExecContext(ctx, k.withPerson, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, at, m.Person[:])
}

// unixNano is how times are stored: Unix nanoseconds, now for zero.
func (s *MessageDB) unixNano(t time.Time) int64 {
	if t.IsZero() {
		t = s.now()
	}
	return t.UnixNano()
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
