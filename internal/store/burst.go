package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
		for _, m := range b.Outgoing {
			k := outgoingRow
			if m.State == Sent {
				k = sentRow
			}
			if _, err := s.insertMessageIn(ctx, tx, k, m); isConstraint(err) {
				return fmt.Errorf("store: CommitBurst %x to %s: %w", m.ID, m.Peer, ErrDuplicate)
			} else if err != nil {
				return err
			}
		}
		for i, m := range b.Incoming {
			res, err := s.insertMessageIn(ctx, tx, incomingRow, m)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			r.IsNew[i] = n == 1
		}
		for i, d := range b.Delivered {
			to, op := d.recipient()
			unmarked, err := s.markDeliveredIn(ctx, tx, op, to, d.ID)
			if err != nil {
				return err // the database failed: the whole burst goes again
			}
			r.DeliveryErrs[i] = unmarked
		}
		return nil
	})
	if errors.Is(err, ErrDuplicate) {
		return BurstResult{}, err
	}
	if err != nil {
		return BurstResult{}, s.wrap("CommitBurst", err)
	}
	return r, nil
}
