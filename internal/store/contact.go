package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxEndpoints is how many addresses the store keeps per contact, the most
// recently seen: enough for a laptop's home, office and phone hotspot and a
// relay, while a peer that roams through many addresses does not grow the
// table without bound.
const MaxEndpoints = 8

// Source says how an endpoint was learned. Its values are stored: never
// change them.
type Source string

const (
	FromFlag      Source = "flag"      // given on the command line (--peer)
	FromDiscovery Source = "discovery" // announced on the local network
	FromRelay     Source = "relay"     // reached through a relay
	FromPacket    Source = "packet"    // a datagram of theirs came from it
)

// Endpoint is an address a contact was seen at.
type Endpoint struct {
	Address  string
	Source   Source
	LastSeen time.Time
}

// Contact is a person: a public key, with what is known of them.
type Contact struct {
	Key [32]byte
	// AnnouncedName is the name they last announced; GivenName is the one
	// the user gave them (Rename), "" for none.
	AnnouncedName string
	GivenName     string
	// Endpoints are where they were seen, most recent first, at most
	// MaxEndpoints.
	Endpoints []Endpoint
	FirstSeen time.Time
	LastSeen  time.Time
	// NearbyAt is when a running chat last heard them announce themselves
	// on the local network (ContactNearby); zero for never. An
	// announcement is unproven, so it is kept apart from the endpoints.
	NearbyAt time.Time
}

// Name is what to call the contact: the given name, or else the announced
// one.
func (c Contact) Name() string {
	if c.GivenName != "" {
		return c.GivenName
	}
	return c.AnnouncedName
}

// Sighting is one time a person was seen, for ContactSeen.
type Sighting struct {
	Key [32]byte
	// AnnouncedName is the name they announced; "" keeps the one stored.
	AnnouncedName string
	// Address is where they were seen, learned from Source; "" records
	// no endpoint.
	Address string
	Source  Source
	// At is when; zero means now.
	At time.Time
}

// AmbiguousNameError is returned by ContactNamed when more than one
// contact goes by the name: the user has to say which (by key, or by
// giving one of them another name).
type AmbiguousNameError struct {
	Name       string
	Candidates []Contact
}

func (e *AmbiguousNameError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store: %d contacts are called %q:", len(e.Candidates), e.Name)
	for _, c := range e.Candidates {
		fmt.Fprintf(&b, " %x (%s),", c.Key[:8], c.Name())
	}
	return strings.TrimSuffix(b.String(), ",")
}

// ContactSeen records a sighting of a person: it adds the contact if it is
// new, and otherwise moves its last seen on, takes the announced name if
// the sighting is its newest news, and records the endpoint, keeping the
// MaxEndpoints most recent. Sightings may come out of order (a backfill,
// a slow relay): times only move on, never back.
func (s *MessageDB) ContactSeen(ctx context.Context, sg Sighting) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return s.contactSeen(ctx, tx, sg) })
	if err != nil {
		return s.wrap("ContactSeen", err)
	}
	return nil
}

func (s *MessageDB) contactSeen(ctx context.Context, tx *sql.Tx, sg Sighting) error {
	switch sg.Source {
	case FromFlag, FromDiscovery, FromRelay, FromPacket:
	default:
		if sg.Address != "" {
			return fmt.Errorf("endpoint %s: unknown source %q", sg.Address, sg.Source)
		}
	}
	at := s.unixNano(sg.At)
	_, err := tx.ExecContext(ctx, `INSERT INTO contacts (key, announced_name, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			announced_name = CASE WHEN excluded.announced_name <> '' AND (excluded.last_seen >= last_seen OR announced_name = '')
				THEN excluded.announced_name ELSE announced_name END,
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen)`,
		sg.Key[:], sg.AnnouncedName, at, at)
	if err != nil || sg.Address == "" {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO endpoints (key, address, source, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (key, address) DO UPDATE SET
			source = CASE WHEN excluded.last_seen >= last_seen THEN excluded.source ELSE source END,
			last_seen = max(last_seen, excluded.last_seen)`,
		sg.Key[:], sg.Address, string(sg.Source), at)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM endpoints WHERE key = ?1 AND address NOT IN
		(SELECT address FROM endpoints WHERE key = ?1 ORDER BY last_seen DESC, address LIMIT ?2)`,
		sg.Key[:], MaxEndpoints)
	return err
}

// ContactNearby records that the contact with key was heard announcing
// itself on the local network at (zero: now). It never adds a contact — a
// beacon is anyone's to send — and reports whether one was there. Times
// only move on.
func (s *MessageDB) ContactNearby(ctx context.Context, key [32]byte, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE contacts SET nearby_at = max(coalesce(nearby_at, 0), ?) WHERE key = ?`,
		s.unixNano(at), key[:])
	if err != nil {
		return false, s.wrap("ContactNearby", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap("ContactNearby", err)
	}
	return n > 0, nil
}

// Contacts returns every contact, by name (given, else announced), then
// by key.
func (s *MessageDB) Contacts(ctx context.Context) ([]Contact, error) {
	cs, err := s.contacts(ctx, "")
	if err != nil {
		return nil, s.wrap("Contacts", err)
	}
	return cs, nil
}

// Contact returns the contact with key, or ErrNoContact.
func (s *MessageDB) Contact(ctx context.Context, key [32]byte) (Contact, error) {
	cs, err := s.contacts(ctx, "WHERE key = ?", key[:])
	if err != nil {
		return Contact{}, s.wrap("Contact", err)
	}
	if len(cs) == 0 {
		return Contact{}, fmt.Errorf("%x: %w", key, ErrNoContact)
	}
	return cs[0], nil
}

// ContactNamed returns the contact a user means by name: the one the user
// gave that name, or else the one that announced it and was given none (so
// that renaming one of two "bob"s leaves "bob" meaning the other). Names
// match exactly, case and all, as the chat compares them. More than one
// contact of the same kind of name is an *AmbiguousNameError listing them;
// none is ErrNoContact.
func (s *MessageDB) ContactNamed(ctx context.Context, name string) (Contact, error) {
	for _, where := range []string{"WHERE given_name = ?", "WHERE given_name IS NULL AND announced_name = ?"} {
		cs, err := s.contacts(ctx, where, name)
		if err != nil {
			return Contact{}, s.wrap("ContactNamed", err)
		}
		switch len(cs) {
		case 0:
			continue
		case 1:
			return cs[0], nil
		}
		return Contact{}, &AmbiguousNameError{Name: name, Candidates: cs}
	}
	return Contact{}, fmt.Errorf("%q: %w", name, ErrNoContact)
}

// contacts returns the contacts where selects, with their endpoints, in
// Contacts' order.
func (s *MessageDB) contacts(ctx context.Context, where string, args ...any) ([]Contact, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, announced_name, given_name, first_seen, last_seen, nearby_at FROM contacts `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []Contact
	index := map[[32]byte]int{}
	for rows.Next() {
		var (
			c           Contact
			key         []byte
			given       sql.NullString
			first, last int64
			nearby      sql.NullInt64
		)
		if err := rows.Scan(&key, &c.AnnouncedName, &given, &first, &last, &nearby); err != nil {
			return nil, err
		}
		if len(key) != len(c.Key) {
			return nil, fmt.Errorf("contact key of %d bytes: %w", len(key), ErrCorrupt)
		}
		copy(c.Key[:], key)
		c.GivenName = given.String
		c.FirstSeen, c.LastSeen = time.Unix(0, first), time.Unix(0, last)
		if nearby.Valid {
			c.NearbyAt = time.Unix(0, nearby.Int64)
		}
		index[c.Key] = len(cs)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(cs) == 0 {
		return nil, nil
	}
	eps, err := s.db.QueryContext(ctx, `SELECT key, address, source, last_seen FROM endpoints
		WHERE key IN (SELECT key FROM contacts `+where+`) ORDER BY last_seen DESC, address`, args...)
	if err != nil {
		return nil, err
	}
	defer eps.Close()
	for eps.Next() {
		var (
			key  []byte
			e    Endpoint
			last int64
		)
		if err := eps.Scan(&key, &e.Address, &e.Source, &last); err != nil {
			return nil, err
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("endpoint key of %d bytes: %w", len(key), ErrCorrupt)
		}
		if i, ok := index[[32]byte(key)]; ok {
			e.LastSeen = time.Unix(0, last)
			cs[i].Endpoints = append(cs[i].Endpoints, e)
		}
	}
	if err := eps.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(cs, func(a, b Contact) int {
		if c := strings.Compare(a.Name(), b.Name()); c != 0 {
			return c
		}
		return slices.Compare(a.Key[:], b.Key[:])
	})
	return cs, nil
}

// Rename gives the contact with key the name given, which the user will
// know them by whatever they announce; "" takes the given name away. An
// unknown key is ErrNoContact.
func (s *MessageDB) Rename(ctx context.Context, key [32]byte, given string) error {
	var arg any
	if given != "" {
		arg = given
	}
	res, err := s.db.ExecContext(ctx, `UPDATE contacts SET given_name = ? WHERE key = ?`, arg, key[:])
	if err != nil {
		return s.wrap("Rename", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("Rename", err)
	} else if n == 0 {
		return fmt.Errorf("store: Rename %x: %w", key, ErrNoContact)
	}
	return nil
}

// Forget drops the person with key: their contact and endpoints go, and
// every Pending message to them is Cancelled, in one transaction, so a
// crash leaves either all of it or none. It returns the messages it
// cancelled (as they were, Pending), so the caller can say what will not
// be sent. What was said stays in the history. A key with neither a
// contact nor anything pending is ErrNoContact.
func (s *MessageDB) Forget(ctx context.Context, key [32]byte) (cancelled []Message, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM messages WHERE person = ? AND state = 0 ORDER BY seq`, key[:])
		if err != nil {
			return err
		}
		if cancelled, err = scanMessages(rows); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 2 WHERE person = ? AND state = 0`, key[:]); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE key = ?`, key[:])
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 && len(cancelled) == 0 {
			return fmt.Errorf("%x: %w", key, ErrNoContact)
		}
		return err
	})
	if errors.Is(err, ErrNoContact) {
		return nil, fmt.Errorf("store: Forget %w", err)
	}
	if err != nil {
		return nil, s.wrap("Forget", err)
	}
	return cancelled, nil
}
