package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Burst is what a node stores at once: for one burst of its link's work
// (what one wake-up of the link read), the messages peers sent us and the
// acknowledgements of ours; for lines a user's input brought together, our
// messages. CommitBurst writes it in one transaction, so that a burst
// costs one commit (one fsync), not one per message.
type Burst struct {
	// Outgoing are our messages, in the outbox as AddOutgoing stores
	// them, or, those whose State is Sent, in the history only, as
	// AddSent does.
	Outgoing  []Message
	Incoming  []Message  // as AddIncoming takes them
	Delivered []Delivery // as MarkDelivered and MarkDeliveredBy take them
}

// Delivery names an outgoing message a peer acknowledged: by the person it
// was stored for, when it has one (MarkDeliveredBy), else by address.
type Delivery struct {
	Peer   string
	Person [32]byte
	ID     [16]byte
}

func (d Delivery) recipient() (recipient, string) {
	if d.Person != ([32]byte{}) {
		return byPerson(d.Person), "MarkDeliveredBy"
	}
	return byAddress(d.Peer), "MarkDelivered"
}

// BurstResult says what CommitBurst did with each part of a Burst, in the
// Burst's order: which incoming messages were new (as AddIncoming's isNew),
// and which deliveries could not be recorded because the message is not
// ours to mark (unknown, say: as MarkDelivered's error). Those do not undo
// the rest.
type BurstResult struct {
	IsNew        []bool
	DeliveryErrs []error
}

// CommitBurst stores b in one transaction: all of it, or, if it fails
// (a full disk, say), none of it, and the caller may try the same burst
// again. As with AddIncoming, the incoming messages are committed when it
// returns, so the receiver may acknowledge them then; as with AddOutgoing,
// our messages are, so they may be sent. Reusing an ID of ours for the
// same peer is ErrDuplicate, and stores none of the burst.
func (s *MessageDB) CommitBurst(ctx context.Context, b Burst) (BurstResult, error) {
	r := BurstResult{IsNew: make([]bool, len(b.Incoming)), DeliveryErrs: make([]error, len(b.Delivered))}
	for _, m := range slices.Concat(b.Outgoing, b.Incoming) {
		if m.Peer == "" {
			return BurstResult{}, errors.New("store: CommitBurst: message has no peer")
		}
	}
	if len(b.Outgoing) == 0 && len(b.Incoming) == 0 && len(b.Delivered) == 0 {
		return r, nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for out := b.Outgoing; len(out) > 0; {
			// A run of rows of one kind, in one statement.
			sent := out[0].State == Sent
			n := 1
			for n < len(out) && (out[n].State == Sent) == sent {
				n++
			}
			k := outgoingRow
			if sent {
				k = sentRow
			}
			if err := s.insertRows(ctx, tx, k, out[:n], nil); isConstraint(err) {
				return fmt.Errorf("store: CommitBurst: %w", ErrDuplicate)
			} else if err != nil {
				return err
			}
			out = out[n:]
		}
		if err := s.insertRows(ctx, tx, incomingRow, b.Incoming, r.IsNew); err != nil {
			return err
		}
		return s.markDeliveries(ctx, tx, b.Delivered, r.DeliveryErrs)
	})
	if errors.Is(err, ErrDuplicate) {
		return BurstResult{}, err
	}
	if err != nil {
		return BurstResult{}, s.wrap("CommitBurst", err)
	}
	return r, nil
}

// rowsPerInsert bounds the rows of one INSERT: 7 parameters each, well
// under SQLite's limit of 32,766.
const rowsPerInsert = 500

// insertRows adds ms as rows of kind k in tx, many a statement: a
// statement costs a savepoint, at which the search index flushes what it
// holds, so a row a statement would cost several times more. If isNew is
// not nil, it says which of ms were added, not there already (k must then
// skip conflicts): the first of two alike in ms is the one added.
func (s *MessageDB) insertRows(ctx context.Context, tx *sql.Tx, k rowKind, ms []Message, isNew []bool) error {
	for start := 0; start < len(ms); start += rowsPerInsert {
		part := ms[start:min(start+rowsPerInsert, len(ms))]
		var q strings.Builder
		q.WriteString(k.head)
		args := make([]any, 0, 7*len(part))
		for i, m := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(k.row)
			var person any
			if m.Person != ([32]byte{}) {
				person = m.Person[:]
			}
			args = append(args, m.Peer, m.ID[:], m.Kind, m.Name, m.Text, s.unixNano(m.At), person)
		}
		q.WriteString(k.onConflict)
		if isNew == nil {
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
			continue
		}
		q.WriteString(" RETURNING peer, id")
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		added := map[Key]bool{}
		for rows.Next() {
			var peer string
			var id []byte
			if err := rows.Scan(&peer, &id); err != nil {
				rows.Close()
				return err
			}
			added[Key{Peer: peer, ID: [16]byte(id)}] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, m := range part {
			key := Key{Peer: m.Peer, ID: m.ID}
			isNew[start+i] = added[key]
			delete(added, key) // a second alike was not added
		}
	}
	return nil
}

// markDeliveries marks ds delivered in tx, as markDelivered would each,
// and puts in unmarked why one could not be: an UPDATE for each recipient
// and up to rowsPerInsert of its messages; markDelivered itself for each
// message that UPDATE did not change (already Delivered, say), to learn
// why.
func (s *MessageDB) markDeliveries(ctx context.Context, tx *sql.Tx, ds []Delivery, unmarked []error) error {
	// Who each goes to, as a map key: a person's key or an address.
	type who struct {
		person [32]byte
		peer   string
	}
	byRecipient := map[who][]int{}
	var order []who
	for i, d := range ds {
		w := who{person: d.Person}
		if d.Person == ([32]byte{}) {
			w.peer = d.Peer
		}
		if _, ok := byRecipient[w]; !ok {
			order = append(order, w)
		}
		byRecipient[w] = append(byRecipient[w], i)
	}
	now := s.now().UnixNano()
	for _, w := range order {
		all := byRecipient[w]
		to, _ := ds[all[0]].recipient()
		for start := 0; start < len(all); start += rowsPerInsert {
			part := all[start:min(start+rowsPerInsert, len(all))]
			args := []any{now, to.value}
			for _, i := range part {
				args = append(args, ds[i].ID[:])
			}
			rows, err := tx.QueryContext(ctx, `UPDATE messages SET state = 1, delivered_at = ?
				WHERE `+to.column+` = ? AND direction = 0 AND state IN (0, 2, 4)
				AND id IN (?`+strings.Repeat(", ?", len(part)-1)+`) RETURNING id`, args...)
			if err != nil {
				return err
			}
			marked := map[[16]byte]bool{}
			for rows.Next() {
				var id []byte
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				marked[[16]byte(id)] = true
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for _, i := range part {
				if marked[ds[i].ID] {
					continue
				}
				to, op := ds[i].recipient()
				var err error
				if unmarked[i], err = s.markDeliveredIn(ctx, tx, op, to, ds[i].ID); err != nil {
					return err // the database failed: the whole burst goes again
				}
			}
		}
	}
	return nil
}
