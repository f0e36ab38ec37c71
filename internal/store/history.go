package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DefaultLimit is how many messages History returns when Query.Limit is
// not positive.
const DefaultLimit = 1000

// Query selects messages for History. Zero fields select everything.
type Query struct {
	// Peers keeps the messages exchanged with any of these peers; empty
	// keeps every peer's.
	Peers []string
	// People keeps the messages exchanged with any of these people (see
	// Message.Person); empty keeps everyone's. With Peers too, a message
	// must match both.
	People [][32]byte
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
	if len(q.People) > 0 {
		sel.where = append(sel.where, "m.person IN (?"+strings.Repeat(", ?", len(q.People)-1)+")")
		for _, k := range q.People {
			sel.args = append(sel.args, k[:])
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
