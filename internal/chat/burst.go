package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// Group commit: on a link that calls Sync after each burst (the transport
// does: a burst is what one wake-up of its loop read), Receive and
// Delivered only hold what they are handed, and Sync stores the whole
// burst in one commit, then tells it (Events). The link tells no peer that
// a message was consumed before Sync returned nil, so "delivered" still
// means on the other side's disk, for an fsync a burst instead of one a
// message. A lone message is a burst of one: nothing waits for company.

var _ link.Syncer = (*Node)(nil)

// BurstStore is a MessageStore that can store a burst in one transaction
// (store.MessageDB can). With one, and a link that calls Sync, the node
// commits once a burst.
type BurstStore interface {
	CommitBurst(ctx context.Context, b store.Burst) (store.BurstResult, error)
}

var _ BurstStore = (*store.MessageDB)(nil)

// heldBurst is what the link handed the node since the last Sync that
// worked, in order.
type heldBurst struct {
	in        []heldMessage
	delivered []sentRef
}

// heldMessage is a chat payload Receive took, decoded, not yet stored or
// told — or, if payload is set, a room or file payload (a copy), handed on
// in its place in the burst.
type heldMessage struct {
	from    netip.AddrPort
	m       wire.ChatMessage
	at      time.Time
	person  [32]byte
	payload []byte
}

// Sync stores what the link handed over since the last Sync in one
// commit, and then tells it, in the order it came: messages (those the
// store already had, sent again, are not shown again), and deliveries.
// If the commit fails, everything stays held for the next Sync, and the
// link tells no peer it was consumed; the user hears of it once.
func (n *Node) Sync() error {
	b := &n.burst
	if len(b.in) == 0 && len(b.delivered) == 0 {
		return nil
	}
	var burst store.Burst
	for _, h := range b.in {
		if h.payload == nil && isMessage(h.m.Kind) {
			burst.Incoming = append(burst.Incoming, store.Message{
				ID: h.m.ID, Peer: PeerKey(h.from), Kind: int(h.m.Kind), Name: h.m.Name, Text: h.m.Text, At: h.at, Person: h.person,
			})
		}
	}
	n.outMu.Lock()
	ds := make([]delivery, 0, len(b.delivered))
	for _, r := range b.delivered {
		if d, ok := n.deliveryOf(r); ok {
			ds = append(ds, d)
			for _, s := range d.all() {
				to := store.Delivery{Peer: s.row, ID: [16]byte(s.ID)}
				if n.people != nil {
					to.Person = s.person
				}
				burst.Delivered = append(burst.Delivered, to)
			}
		}
	}
	res, err := n.burstStore.CommitBurst(storeCtx, burst)
	if err != nil {
		n.outMu.Unlock()
		what := fmt.Sprintf("a burst of %d messages", len(burst.Incoming))
		if len(burst.Incoming) == 1 {
			what = "a message from " + burst.Incoming[0].Peer
		}
		n.storeFailed(fmt.Errorf("%s is not stored, so not yet accepted (it will come again): %w", what, err))
		return err
	}
	n.update(func() []Event {
		var evs []Event
		errs := res.DeliveryErrs
		for _, d := range ds {
			k := 1 + len(d.copies)
			evs = append(evs, n.deliveredLocked(d, errors.Join(errs[:k]...))...)
			errs = errs[k:]
		}
		return evs
	})
	n.outMu.Unlock()
	n.storeWorked()
	stored := 0
	for _, h := range b.in {
		if h.payload != nil {
			if err := n.receivePayload(h.from, h.payload); err != nil {
				n.update(func() []Event { return []Event{Error{Err: fmt.Errorf("a message from %s: %w", h.from, err)}} })
			}
			continue
		}
		if isMessage(h.m.Kind) {
			isNew := res.IsNew[stored]
			stored++
			if !isNew {
				n.stats.duplicates.Add(1)
				n.log.Debug("message already stored: not shown again", "peer", h.from, "id", MessageID(h.m.ID))
				continue
			}
		}
		n.show(h.from, h.m, h.at, h.person)
	}
	clear(b.in)
	b.in, b.delivered = b.in[:0], b.delivered[:0]
	return nil
}
