package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// assignedMarker is the meta row AssignPeople leaves, so that it runs once.
const assignedMarker = "people assigned"

// Backfill is what AssignPeople did.
type Backfill struct {
	// Ran is false when the backfill had already run: it runs once per
	// database, and later calls change nothing.
	Ran bool
	// Assigned is how many messages were given their person.
	Assigned int
	// Copies is how many messages were not given their person because
	// the person has them already, from another address (a
	// retransmission that came from two): they stay by address.
	Copies int
	// Unmapped is how many messages have an address no key was given for,
	// and UnmappedPeers those addresses, sorted. They stay in the history,
	// readable by address (Message.Peer), with no person: the caller says
	// so once.
	Unmapped      int
	UnmappedPeers []string
}

// AssignPeople is the one-time move of a history kept by address (schemas
// 1 to 4) to people: each message whose address keys maps to a key is
// given that person (but for copies, see Backfill.Copies), and the person
// becomes a contact, with the name they last announced in it, the address
// as an endpoint (FromPacket if they wrote from it, FromFlag if we only
// wrote to it) and the times of the first and last message. It runs in
// one transaction, and records that it ran in it: a crash leaves it to do
// again whole, and once done, later calls (the next starts) return Ran
// false and touch nothing, so an address that maps to a key only later
// is not mapped then.
func (s *MessageDB) AssignPeople(ctx context.Context, keys map[string][32]byte) (Backfill, error) {
	var b Backfill
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var done int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM meta WHERE name = ?`, assignedMarker).Scan(&done); err != nil || done > 0 {
			return err
		}
		peers, err := unassignedPeers(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range peers {
			key, ok := keys[p.address]
			if !ok {
				b.Unmapped += p.messages
				b.UnmappedPeers = append(b.UnmappedPeers, p.address)
				continue
			}
			n, err := s.assign(ctx, tx, p, key)
			if err != nil {
				return fmt.Errorf("%s: %w", p.address, err)
			}
			b.Assigned += int(n)
			b.Copies += p.messages - int(n)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)`, assignedMarker,
			fmt.Sprintf("%s: %d messages assigned, %d unmapped", s.now().UTC().Format(time.RFC3339), b.Assigned, b.Unmapped))
		b.Ran = err == nil
		return err
	})
	if err != nil {
		return Backfill{}, s.wrap("AssignPeople", err)
	}
	return b, nil
}

// addressHistory sums up the messages exchanged with one address that
// have no person yet.
type addressHistory struct {
	address     string
	messages    int
	first, last int64 // Unix nanoseconds, as stored
	wroteUs     bool  // some are incoming
	lastName    string
}

// unassignedPeers returns the history of each address with messages that
// have no person, by address.
func unassignedPeers(ctx context.Context, tx *sql.Tx) ([]addressHistory, error) {
	rows, err := tx.QueryContext(ctx, `SELECT peer, count(*), min(at), max(at), max(direction),
			coalesce((SELECT name FROM messages i WHERE i.peer = m.peer AND i.direction = 1 ORDER BY i.seq DESC LIMIT 1), '')
		FROM messages m WHERE person IS NULL GROUP BY peer ORDER BY peer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hs []addressHistory
	for rows.Next() {
		var h addressHistory
		if err := rows.Scan(&h.address, &h.messages, &h.first, &h.last, &h.wroteUs, &h.lastName); err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, rows.Err()
}

// assign gives h's messages the person key, and makes key a contact seen
// at h's address.
func (s *MessageDB) assign(ctx context.Context, tx *sql.Tx, h addressHistory, key [32]byte) (assigned int64, err error) {
	// A message the person already has under another address (a
	// retransmission that came from two) keeps no person: it stays as a
	// copy by address, and the person has it once.
	res, err := tx.ExecContext(ctx, `UPDATE messages SET person = ?1 WHERE peer = ?2 AND person IS NULL
		AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.person = ?1 AND o.direction = messages.direction AND o.id = messages.id)`,
		key[:], h.address)
	if err != nil {
		return 0, err
	}
	assigned, err = res.RowsAffected()
	if err != nil {
		return 0, err
	}
	source := FromFlag
	if h.wroteUs {
		source = FromPacket
	}
	// Seen first at the first message, then last at the last, with the
	// name and address: times only move on in ContactSeen, so two
	// sightings set both ends.
	if err := s.contactSeen(ctx, tx, Sighting{Key: key, At: time.Unix(0, h.first)}); err != nil {
		return 0, err
	}
	return assigned, s.contactSeen(ctx, tx, Sighting{Key: key, AnnouncedName: h.lastName, Address: h.address, Source: source, At: time.Unix(0, h.last)})
}
