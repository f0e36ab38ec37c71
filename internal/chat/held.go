package chat

import (
	"errors"
	"fmt"
)

// Held messages: on a link with identities, what we send a peer waits in
// memory until the peer has joined (see sendLocked), so that an impostor
// never gets it; releaseLocked hands it to the link once the peer is
// known.

// maxHeld bounds the bytes of messages held for peers that have not
// joined, as the link bounds what it queues: past it, a message is not
// sent (ErrHeldFull), as one the link cannot queue is not.
const maxHeld = 64 << 20

// ErrHeldFull is returned by Send when too much already waits for peers
// that have not joined.
var ErrHeldFull = errors.New("too much is waiting for peers that have not joined yet")

// holdLocked keeps our message s for p (its payload set here), pending, until p joins
// (releaseLocked). The first one held asks the link to reach p, as sending
// would have. n.mu must be held.
func (n *Node) holdLocked(p *peer, payload []byte, s pendingSent) error {
	if n.heldBytes+len(payload) > maxHeld {
		return ErrHeldFull
	}
	if len(p.held) == 0 {
		if err := n.link.Connect(p.addr); err != nil {
			return err
		}
	}
	n.heldSeq++
	r := sentRef{peer: p.addr, ref: n.heldSeq, held: true}
	s.payload = payload
	n.addPendingLocked(r, s)
	n.heldBytes += len(payload)
	p.held = append(p.held, heldSend{ref: r})
	return nil
}

// releaseLocked gives the link, in order, what was held for p, which has
// just joined; those Cancel took meanwhile are gone. It returns an Error
// for each the link refuses, which is held again. n.mu must be held.
func (n *Node) releaseLocked(p *peer) []Event {
	held := p.held
	p.held = nil
	var evs []Event
	p.awaitsFeatures = false
	for i, h := range held {
		if h.hello != nil {
			if _, err := n.link.Send(p.addr, h.hello); err != nil {
				evs = append(evs, Error{Err: fmt.Errorf("introduce ourselves to %s: %w", p.addr, err)})
			}
			continue
		}
		r := h.ref
		ps, ok := n.pending[r]
		if !ok {
			continue
		}
		if n.awaitsFeaturesLocked(p, ps) {
			// It and all after it wait for p's features.
			p.held = append(p.held, held[i:]...)
			n.awaitFeaturesLocked(p)
			return evs
		}
		ref, err := n.sendHeldLocked(p, ps)
		if err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("send %s to %s: %w; it waits", ps.ID, p.displayName(), err)})
			p.held = append(p.held, h)
			continue
		}
		n.heldBytes -= len(ps.payload)
		ps.payload = nil
		n.rekeyLocked(r, sentRef{peer: p.addr, ref: ref}, ps)
	}
	return evs
}

// sendHeldLocked gives the link ps, held for p, as p is to get it. n.mu
// must be held.
func (n *Node) sendHeldLocked(p *peer, ps pendingSent) (uint64, error) {
	payload, err := n.payloadForLocked(p, ps.payload, ps)
	if err != nil {
		return 0, err
	}
	return n.link.Send(p.addr, payload)
}
