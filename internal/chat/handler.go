package chat

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/udpchat/udpchat/internal/link"
)

// The Node is its Link's Handler: these methods turn what the link reports
// about peers and deliveries into Events (what it hands up to read goes to
// Receive, in receive.go). The link calls them from its own goroutine, one
// at a time.

var _ link.Handler = (*Node)(nil)

// PeerUp starts a new session with peer: its next chat message announces it
// (Joined). We introduce ourselves with a hello, to a member at once, to
// anyone else once it has introduced itself: an address that only opened a
// session learns nothing, not even our name. (The plain link has no
// sessions, and never calls it.)
func (n *Node) PeerUp(peer netip.AddrPort) {
	n.update(func() []Event {
		p := n.peerLocked(peer)
		p.joined, p.state = false, PeerOnline
		n.newSessionFeaturesLocked(p)
		p.answered, p.inSession, p.greeted = true, true, false
		if err := n.greetLocked(p); err != nil {
			return []Event{Error{Err: err}}
		}
		return nil
	})
	if n.files != nil { // after the hello: what we offered it, again
		n.files.PeerUp(peer)
	}
}

// Delivered turns the link's ref back into the message it names, and marks
// it delivered in the store before anyone can see it delivered
// (WaitDelivered included: a program that exits then must not leave it
// pending, to be sent again at its next start).
//
// On a link that calls Sync, the mark waits for it (see burst.go): one
// commit for a burst of acknowledgements.
func (n *Node) Delivered(peer netip.AddrPort, ref uint64) {
	r := sentRef{peer: peer, ref: ref}
	if n.batching.Load() {
		n.burst.delivered = append(n.burst.delivered, r)
		return
	}
	n.delivered(r)
}

// delivered is Delivered of r at once, not in a burst; r may also name a
// message held for a peer that has not joined: a receipt mail delivered it
// (mail.go).
func (n *Node) delivered(r sentRef) {
	n.outMu.Lock()
	d, ok := n.deliveryOf(r)
	if !ok {
		n.outMu.Unlock()
		return // a hello: not a message anyone waits for
	}
	var storeErr error
	if n.store != nil {
		for _, s := range d.all() {
			storeErr = errors.Join(storeErr, n.markDelivered(s))
		}
	}
	n.mu.Lock()
	evs := n.deliveredLocked(d, storeErr)
	t := n.takeTurnLocked()
	n.mu.Unlock()
	n.outMu.Unlock()
	n.emit(t, evs)
}

// delivery is an acknowledged message, found by its ref: still pending,
// or cancelled after it was sent.
type delivery struct {
	r       sentRef
	s       pendingSent
	pending bool
	// copies are the other copies of the message still pending for the
	// same person (see copiesLocked): they are delivered with it.
	copies []pendingSent
}

// all is the message delivered and its copies, each to mark in the store.
func (d delivery) all() []pendingSent { return append([]pendingSent{d.s}, d.copies...) }

// deliveryOf finds the message r names; ok is false for one no one waits
// for (a hello). n.outMu must be held.
func (n *Node) deliveryOf(r sentRef) (d delivery, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d.r = r
	if d.s, d.pending = n.pending[r]; !d.pending {
		if d.s, ok = n.cancelled[r]; !ok {
			return d, false
		}
	}
	for _, c := range n.copiesLocked(r, d.s) {
		d.copies = append(d.copies, n.pending[c])
	}
	return d, true
}

// copiesLocked lists the other pending copies of s, ours at r, that are for
// the same person: one message to a person is delivered once, whichever
// copy gets there. There are copies when a line went to two addresses
// before they were known to be one person's (their last-known one and a
// relayed session, say) and the person then joined at one of them, which
// the other's copy followed (follow.go); the person has the message once
// either is acknowledged, or named in a mailed receipt. n.mu must be held.
func (n *Node) copiesLocked(r sentRef, s pendingSent) []sentRef {
	person := n.recipientOfLocked(r.peer, s)
	if person == ([32]byte{}) {
		return nil
	}
	var copies []sentRef
	for _, c := range n.pendingByID[s.ID] {
		if c != r && n.recipientOfLocked(c.peer, n.pending[c]) == person {
			copies = append(copies, c)
		}
	}
	return copies
}

// recipientOfLocked is the person our message s, pending at addr, is for:
// the one it was sent to, else, if that was not known then, the person
// who has joined at addr since; zero if neither is known. n.mu must be
// held.
func (n *Node) recipientOfLocked(addr netip.AddrPort, s pendingSent) [32]byte {
	if s.person != ([32]byte{}) {
		return s.person
	}
	if p := n.peers[addr]; p != nil && p.joined {
		return p.person
	}
	return [32]byte{}
}

// deliveredLocked forgets d, which the store has marked delivered or
// failed to (storeErr), and returns the events that say so. n.outMu and
// n.mu must be held.
func (n *Node) deliveredLocked(d delivery, storeErr error) []Event {
	var evs []Event
	if storeErr != nil {
		// The peer has it; our store still says pending, so the next
		// start sends it again, and the peer, which has stored its
		// ID, does not show it twice.
		evs = append(evs, Error{Err: fmt.Errorf("%s was delivered to %s, but the store could not record it: %w", d.s.ID, d.r.peer, storeErr)})
	}
	copies := n.copiesLocked(d.r, d.s) // again: one may have followed its person meanwhile
	if d.pending {
		n.removePendingLocked(d.r)
	} else {
		delete(n.cancelled, d.r)
	}
	for _, c := range copies {
		n.removePendingLocked(c)
	}
	// Named as it was sent, wherever the person took it (follow.go):
	// that is the Sent the UI shows.
	return append(evs, Delivered{ID: d.s.ID, To: d.s.To})
}

// markDelivered records in the store that the recipient of s has it: by
// person if known, so that it counts whatever address they took it at.
func (n *Node) markDelivered(s pendingSent) error {
	if n.people != nil && s.person != ([32]byte{}) {
		return n.people.MarkDeliveredBy(storeCtx, s.person, [16]byte(s.ID))
	}
	return n.store.MarkDelivered(storeCtx, s.row, [16]byte(s.ID))
}

// PeerClosed says peer left on purpose; its next session will announce it
// again. Only a peer that joined is said to leave (see peer.present).
func (n *Node) PeerClosed(peer netip.AddrPort) {
	n.update(func() []Event { return n.peerLocked(peer).leave() })
	n.roomsPersonDown(peer)
}

// PeerGone says the link forgot peer: one the user did not choose, silent
// for a while (see transport.Config.ForgetAfter). The node forgets it too,
// and gives up on what it held for it (a Cancelled each), so that a flood
// of contacts that went away leaves no trace in memory.
func (n *Node) PeerGone(peer netip.AddrPort) {
	n.roomsPersonDown(peer)
	n.outMu.Lock()
	n.mu.Lock()
	p := n.peers[peer]
	if p == nil || p.chosen {
		// A chosen peer is one the link keeps; if it forgot one all the
		// same, the next Send makes it anew.
		n.mu.Unlock()
		n.outMu.Unlock()
		return
	}
	evs := n.dropPeerLocked(p)
	t := n.takeTurnLocked()
	n.mu.Unlock()
	n.outMu.Unlock()
	n.warned.forget(peer)
	n.emit(t, evs)
}

// PeerUnreachable says peer stopped answering. Only about a peer that
// joined is that news (see peer.present).
func (n *Node) PeerUnreachable(peer netip.AddrPort) {
	n.roomsPersonDown(peer)
	n.update(func() []Event {
		p := n.peers[peer]
		if p == nil || p.state == PeerUnreachable {
			return nil
		}
		p.state = PeerUnreachable
		if !p.present {
			return nil
		}
		return []Event{Unreachable{Peer: peer, Name: p.displayName()}}
	})
}

// PeerReachable says an unreachable peer answers again; like
// PeerUnreachable, it is news only about a peer that joined.
func (n *Node) PeerReachable(peer netip.AddrPort) {
	defer n.roomsPersonUp(n.personAt(peer))
	n.update(func() []Event {
		p := n.peers[peer]
		if p == nil || p.state != PeerUnreachable {
			return nil
		}
		p.state = PeerOnline
		if !p.present {
			return nil
		}
		return []Event{Reachable{Peer: peer, Name: p.displayName()}}
	})
}
