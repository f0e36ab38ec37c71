package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// TransferState is how far a file transfer got, as history shows it.
type TransferState string

// The states of a transfer (schema 9's transfers.state).
const (
	TransferOffered  TransferState = "offered"  // waiting for the receiver's answer
	TransferAccepted TransferState = "accepted" // blocks moving
	TransferDone     TransferState = "done"     // the receiver verified the whole file
	TransferDeclined TransferState = "declined" // the receiver said no
	TransferFailed   TransferState = "failed"   // cancelled, a bad block, a disk error...
)

// Transfer is one file sent or offered to us, as history lists it.
type Transfer struct {
	ID       [16]byte
	Outgoing bool
	Peer     string   // the peer's address, as messages.peer
	Person   [32]byte // the peer's key; zero: not known
	PeerName string
	Name     string // the file's name (incoming: the one it lands under)
	Size     uint64
	State    TransferState
	Path     string // where a received file landed
	Error    string // why it failed or was declined
	// At is when the transfer was first put; UpdatedAt its last change.
	At, UpdatedAt time.Time
}

// PutTransfer records t, or its new state if the transfer is known: its
// At stays the first one's, and an empty PeerName, Path or Error keeps
// the one stored.
func (s *MessageDB) PutTransfer(ctx context.Context, t Transfer) error {
	now := s.unixNano(t.UpdatedAt)
	at := now
	if !t.At.IsZero() {
		at = t.At.UnixNano()
	}
	var person any
	if t.Person != ([32]byte{}) {
		person = t.Person[:]
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO transfers
		(id, outgoing, peer, person, peer_name, name, size, state, path, error, at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id, outgoing) DO UPDATE SET
			peer = excluded.peer,
			person = coalesce(excluded.person, person),
			peer_name = iif(excluded.peer_name = '', peer_name, excluded.peer_name),
			state = excluded.state,
			path = iif(excluded.path = '', path, excluded.path),
			error = iif(excluded.error = '', error, excluded.error),
			updated_at = excluded.updated_at`,
		t.ID[:], t.Outgoing, t.Peer, person, t.PeerName, t.Name, int64(t.Size), string(t.State), t.Path, t.Error, at, now)
	if err != nil {
		return s.wrap("PutTransfer", err)
	}
	return nil
}

// Transfers returns the newest q.Limit transfers that match q, oldest
// first: Peers and People as History takes them, Since by when a transfer
// began, Search as a substring of the file's name (ASCII case ignored).
func (s *MessageDB) Transfers(ctx context.Context, q Query) ([]Transfer, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var where []string
	var args []any
	if len(q.Peers) > 0 || len(q.People) > 0 {
		var or []string
		if len(q.Peers) > 0 {
			or = append(or, "peer IN (?"+strings.Repeat(", ?", len(q.Peers)-1)+")")
			for _, p := range q.Peers {
				args = append(args, p)
			}
		}
		if len(q.People) > 0 {
			or = append(or, "person IN (?"+strings.Repeat(", ?", len(q.People)-1)+")")
			for _, k := range q.People {
				args = append(args, k[:])
			}
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if search := strings.TrimSpace(q.Search); search != "" {
		where = append(where, `name LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(search)+"%")
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, q.Since.UnixNano())
	}
	query := `SELECT id, outgoing, peer, person, peer_name, name, size, state, path, error, at, updated_at FROM transfers`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC LIMIT ?"
	ts, err := collect(ctx, s.db, scanTransfer, query, append(args, limit)...)
	if err != nil {
		return nil, s.wrap("Transfers", err)
	}
	for i, j := 0, len(ts)-1; i < j; i, j = i+1, j-1 {
		ts[i], ts[j] = ts[j], ts[i]
	}
	return ts, nil
}

func scanTransfer(rows *sql.Rows) (Transfer, error) {
	var t Transfer
	var id, person []byte
	var size, at, updated int64
	var state string
	err := rows.Scan(&id, &t.Outgoing, &t.Peer, &person, &t.PeerName, &t.Name, &size, &state, &t.Path, &t.Error, &at, &updated)
	copy(t.ID[:], id)
	copy(t.Person[:], person)
	t.Size, t.State = uint64(size), TransferState(state)
	t.At, t.UpdatedAt = time.Unix(0, at), time.Unix(0, updated)
	return t, err
}
