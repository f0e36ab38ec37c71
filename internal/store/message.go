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
	// sender of an incoming one. It is an address ("127.0.0.1:9002") today
	// and a key fingerprint once peers are known by key; the store only compares
	// it.
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
}

// columns are what scanMessage reads, in its order.
const columns = "peer, id, direction, kind, name, text, at, state, delivered_at"

// The statements that add messages; their arguments are peer, id, kind,
// name, text, at.
const (
	insertOutgoing = `INSERT INTO messages (peer, id, direction, kind, name, text, at, state)
		VALUES (?, ?, 0, ?, ?, ?, ?, 0)`
	insertSent = `INSERT INTO messages (peer, id, direction, kind, name, text, at, state)
		VALUES (?, ?, 0, ?, ?, ?, ?, 4)`
	insertIncoming = `INSERT INTO messages (peer, id, direction, kind, name, text, at, state, shown)
		VALUES (?, ?, 1, ?, ?, ?, ?, 3, 0)
		ON CONFLICT (peer, direction, id) DO NOTHING`
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
	_, err := s.db.ExecContext(ctx, insertOutgoing, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, s.unixNano(m.At))
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
	_, err := s.db.ExecContext(ctx, insertSent, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, s.unixNano(m.At))
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
	res, err := s.db.ExecContext(ctx,
		`UPDATE messages SET state = 1, delivered_at = ?
		 WHERE peer = ? AND direction = 0 AND id = ? AND state IN (0, 2, 4)`,
		s.now().UnixNano(), peer, id[:])
	if err != nil {
		return s.wrap("MarkDelivered", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	switch st, err := s.state(ctx, peer, id); {
	case err != nil:
		return fmt.Errorf("store: MarkDelivered: %w", err)
	case st != Delivered:
		return fmt.Errorf("store: MarkDelivered %x to %s: is %v", id, peer, st)
	}
	return nil
}

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
	var st State
	err := s.db.QueryRowContext(ctx,
		`SELECT state FROM messages WHERE peer = ? AND direction = 0 AND id = ?`, peer, id[:]).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%x to %s: %w", id, peer, ErrNotFound)
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
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+columns+` FROM messages WHERE state = 0 ORDER BY seq`)
	if err != nil {
		return nil, s.wrap("Pending", err)
	}
	ms, err := scanMessages(rows)
	if err != nil {
		return nil, s.wrap("Pending", err)
	}
	return ms, nil
}

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
	res, err := s.db.ExecContext(ctx, insertIncoming, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, s.unixNano(m.At))
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
		st, err := tx.PrepareContext(ctx, `UPDATE messages SET shown = 1 WHERE peer = ? AND direction = 1 AND id = ? AND shown = 0`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, k.Peer, k.ID[:]); err != nil {
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

// DefaultLimit is how many messages History returns when Query.Limit is
// not positive.
const DefaultLimit = 1000

// Query selects messages for History. Zero fields select everything.
type Query struct {
	// Peers keeps the messages exchanged with any of these peers; empty
	// keeps every peer's.
	Peers []string
	// Search keeps the messages whose text has every word of Search, each
	// as a word or the start of one, ignoring case and diacritics; see
	// ftsQuery.
	Search string
	// Since keeps the messages at or after it.
	Since time.Time
	// Limit is how many of the newest matches to return; not positive
	// means DefaultLimit.
	Limit int
}

// History returns the newest q.Limit messages that match q, oldest first.
func (s *MessageDB) History(ctx context.Context, q Query) ([]Message, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	sel := q.selection()
	query := "SELECT " + prefixColumns("m.") + sel.from() + " ORDER BY " + sel.order + " DESC LIMIT ?"
	rows, err := s.db.QueryContext(ctx, query, append(sel.args, limit)...)
	if err != nil {
		return nil, s.wrap("History", err)
	}
	ms, err := scanMessages(rows)
	if err != nil {
		return nil, s.wrap("History", err)
	}
	if sel.match != "" {
		if err := s.checkIndexed(ctx, sel.match); err != nil {
			return nil, err
		}
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms, nil
}

// Count returns how many messages match q, whatever its Limit: so that a
// listing cut at the limit can say how much it left out.
func (s *MessageDB) Count(ctx context.Context, q Query) (int, error) {
	sel := q.selection()
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*)"+sel.from(), sel.args...).Scan(&n); err != nil {
		return 0, s.wrap("Count", err)
	}
	return n, nil
}

// selection is the FROM and WHERE of the messages a Query selects, with
// their arguments, shared by History and Count.
type selection struct {
	tables string
	order  string // the column that orders the rows by seq
	match  string // the FTS query, if the index drives the search
	where  []string
	args   []any
}

func (q Query) selection() selection {
	sel := selection{tables: "messages m", order: "m.seq"}
	if search := strings.TrimSpace(q.Search); search != "" {
		if sel.match = ftsQuery(search); sel.match != "" {
			// Driven by the index: FTS5 yields rowids newest first and
			// the LIMIT stops it.
			sel.tables = "messages_fts f JOIN messages m ON m.seq = f.rowid"
			sel.order = "f.rowid"
			sel.where = append(sel.where, "messages_fts MATCH ?")
			sel.args = append(sel.args, sel.match)
		} else {
			// Nothing in it is a word ("?!", ":)"), which the index does
			// not hold: scan with LIKE, an ASCII-case-insensitive
			// substring match.
			sel.where = append(sel.where, `m.text LIKE ? ESCAPE '\'`)
			sel.args = append(sel.args, "%"+likeEscape(search)+"%")
		}
	}
	if len(q.Peers) > 0 {
		sel.where = append(sel.where, "m.peer IN (?"+strings.Repeat(", ?", len(q.Peers)-1)+")")
		for _, p := range q.Peers {
			sel.args = append(sel.args, p)
		}
	}
	if !q.Since.IsZero() {
		sel.where = append(sel.where, "m.at >= ?")
		sel.args = append(sel.args, q.Since.UnixNano())
	}
	return sel
}

// from is the selection's FROM and WHERE clauses.
func (sel selection) from() string {
	sql := " FROM " + sel.tables
	if len(sel.where) > 0 {
		sql += " WHERE " + strings.Join(sel.where, " AND ")
	}
	return sql
}

// checkIndexed returns ErrCorrupt if a message the search index matches
// for match is missing from the messages table.
//
// The index and the table change in one transaction, so they never
// disagree in a sound file. In a damaged one they may, silently: a garbled
// leaf page of the table makes the lookup of a row by its seq find
// nothing, where a scan of the same page fails with SQLITE_CORRUPT, so
// the inner join of History drops the match without an error. Counting
// the matches the join loses turns that into the error it is, rather than
// a short list of results. It looks at every match, not only the shown
// ones: a damaged file is worth saying so whatever the limit.
func (s *MessageDB) checkIndexed(ctx context.Context, match string) error {
	var lost int
	err := s.db.QueryRowContext(ctx,
		`SELECT count(*) FROM messages_fts f LEFT JOIN messages m ON m.seq = f.rowid
		 WHERE messages_fts MATCH ? AND m.seq IS NULL`, match).Scan(&lost)
	if err != nil {
		return s.wrap("History", err)
	}
	if lost > 0 {
		return corruptError(s.path, fmt.Errorf("the search index has %d matches that are not in the messages table", lost))
	}
	return nil
}

// PeersNamed returns the peers that sent us messages under name, as their
// display name was then, sorted: how a user who knows a peer by name finds
// its address in the history. Names are matched exactly, case and all, as
// the chat compares them. The messages table has no index on name, so it
// reads every incoming row; that is for a command, not the chat's path.
func (s *MessageDB) PeersNamed(ctx context.Context, name string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT DISTINCT peer FROM messages WHERE direction = 1 AND name = ? ORDER BY peer`, name)
	if err != nil {
		return nil, s.wrap("PeersNamed", err)
	}
	defer rows.Close()
	var peers []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, s.wrap("PeersNamed", err)
		}
		peers = append(peers, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("PeersNamed", err)
	}
	return peers, nil
}

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
		)
		if err := rows.Scan(&m.Peer, &id, &m.Direction, &m.Kind, &m.Name, &m.Text, &at, &m.State, &delivered); err != nil {
			return nil, err
		}
		if len(id) != len(m.ID) {
			return nil, fmt.Errorf("message ID of %d bytes: %w", len(id), ErrCorrupt)
		}
		copy(m.ID[:], id)
		m.At = time.Unix(0, at)
		if delivered.Valid {
			m.DeliveredAt = time.Unix(0, delivered.Int64)
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
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
