package chat

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/wire"
)

// The outbox follows the person: what waits for a key at one address goes
// to the address that key joins from, when it comes back from another (it
// restarted on another port, its address changed). The link is then told to
// forget the old address, so that nothing is retried there; the messages
// keep their IDs, so a person that had one already (through the old
// address) does not show it twice, and "delivered" is recorded by person.

// followLocked moves to p, which has just joined as p.person, what waits
// for that person at other addresses, oldest first, and drops the records
// of those addresses when nothing else waits there. It returns an Error for
// each message the link refuses, which stays where it was. n.mu must be
// held and n.link set.
func (n *Node) followLocked(p *peer) []Event {
	if p.person == ([32]byte{}) {
		return nil
	}
	var refs []sentRef
	for r, s := range n.pending {
		if s.person == p.person && r.peer != p.addr {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	slices.SortFunc(refs, func(a, b sentRef) int { return cmp.Compare(n.pending[a].seq, n.pending[b].seq) })
	var evs []Event
	olds := make(map[netip.AddrPort]bool)
	for _, r := range refs {
		s := n.pending[r]
		payload := s.payload
		if !r.held {
			var err error
			if payload, err = n.resendPayload(s, n.peers[r.peer]); err != nil {
				evs = append(evs, Error{Err: err})
				continue
			}
		}
		ref, err := n.link.Send(p.addr, payload)
		if err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("send %s to %s at %s: %w; it waits", s.ID, p.displayName(), p.addr, err)})
			continue
		}
		olds[r.peer] = true
		if r.held {
			n.heldBytes -= len(payload)
		}
		s.payload = nil
		n.rekeyLocked(r, sentRef{peer: p.addr, ref: ref}, s)
	}
	for addr := range olds {
		if q := n.peers[addr]; q != nil && q.person == p.person && !n.waitsAtLocked(addr) {
			n.movedLocked(q, p)
		}
	}
	return evs
}

// resendPayload is the payload of our message s again, for its person at a
// new address: the link kept the first one, queued for old.
func (n *Node) resendPayload(s pendingSent, old *peer) ([]byte, error) {
	kind := wire.ChatText
	switch {
	case s.Action:
		kind = wire.ChatAction
	case s.Direct && old != nil && old.direct:
		// Else as sendMessage does for a peer not known to show it.
		kind = wire.ChatDirect
	}
	b, err := wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: s.ID, Name: s.name, Text: s.Text})
	if err != nil {
		return nil, fmt.Errorf("message %s for %s cannot be sent again: %w", s.ID, s.To, err)
	}
	return b, nil
}

// waitsAtLocked says whether anything of ours waits at addr. n.mu must be
// held.
func (n *Node) waitsAtLocked(addr netip.AddrPort) bool {
	for r := range n.pending {
		if r.peer == addr {
			return true
		}
	}
	return false
}

// movedLocked drops q, an old address of p's person, from the table and
// from the link: p takes over what the user asked of it (a --peer, say),
// and nothing is retried at q any more. If something writes from q again,
// it is a new session. n.mu must be held.
func (n *Node) movedLocked(q, p *peer) {
	p.member = p.member || q.member
	p.chosen = p.chosen || q.chosen
	p.kept = p.kept || q.kept
	delete(n.peers, q.addr)
	for r := range n.cancelled {
		if r.peer == q.addr {
			delete(n.cancelled, r)
		}
	}
	if f, ok := n.link.(link.Forgetter); ok {
		if err := f.Forget(q.addr); err != nil {
			n.log.Debug("forgetting a person's old address", "addr", q.addr, "err", err)
		}
	}
	n.warned.forget(q.addr)
}
