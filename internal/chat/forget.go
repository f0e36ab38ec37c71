package chat

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/store"
)

// Forget drops peer from the conversation: it is no longer a recipient,
// what waits for it (in the outbox too) is cancelled, and the link drops
// its session and queue. It is /forget: how a user gives up on an address
// that will never answer, or on a peer they no longer want to write to. If
// the peer writes again it is a new contact, as if never seen.
//
// A peer whose key is known is a person: the person goes, from the
// contacts too, with what waits for them at any address (see
// PeopleStore.Forget).
func (n *Node) Forget(peer netip.AddrPort) ([]Cancelled, error) {
	peer = Unmap(peer)
	if err := n.lockOpen(); err != nil {
		return nil, err
	}
	p := n.peers[peer]
	var person [32]byte
	addrs := []netip.AddrPort{peer}
	if p != nil && p.person != ([32]byte{}) {
		person = p.person
		for _, q := range n.sortedPeersLocked() {
			if q.person == person && q != p {
				addrs = append(addrs, q.addr)
			}
		}
	}
	l := n.link
	n.mu.Unlock()
	var storeErr error
	if n.Durable() {
		storeErr = n.forgetStored(peer, person)
	}
	if p == nil && storeErr == nil {
		n.outMu.Unlock()
		return nil, fmt.Errorf("forget %s: %w", peer, ErrUnknownPeer)
	}
	n.mu.Lock()
	var evs []Event
	for _, addr := range addrs {
		if q := n.peers[addr]; q != nil && (q == p || person != ([32]byte{}) && q.person == person) {
			evs = append(evs, n.dropPeerLocked(q)...)
		}
	}
	t := n.takeTurnLocked()
	n.mu.Unlock()
	if f, ok := l.(link.Forgetter); ok {
		// After the node's own: no Send to peer can follow it now.
		for _, addr := range addrs {
			if err := f.Forget(addr); err != nil {
				storeErr = fmt.Errorf("forget %s: %w", addr, err)
			}
		}
	}
	n.outMu.Unlock()
	for _, addr := range addrs {
		n.warned.forget(addr)
	}
	n.emit(t, evs)
	cancelled := make([]Cancelled, len(evs))
	for i, ev := range evs {
		cancelled[i] = ev.(Cancelled)
	}
	return cancelled, storeErr
}

// forgetStored cancels in the store what waits for peer, and for person
// if known (which also drops them from the contacts). n.outMu must be
// held.
func (n *Node) forgetStored(peer netip.AddrPort, person [32]byte) error {
	if n.people != nil && person != ([32]byte{}) {
		if _, err := n.people.Forget(storeCtx, person); err != nil && !errors.Is(err, store.ErrNoContact) {
			return fmt.Errorf("forget %s: what waits for them stays in the outbox: %w", peer, err)
		}
	}
	// And what was written to the address alone (before people were
	// kept by key).
	if _, err := n.store.CancelPeer(storeCtx, PeerKey(peer)); err != nil {
		return fmt.Errorf("forget %s: what waits for it stays in the outbox: %w", peer, err)
	}
	return nil
}

// ErrUnknownPeer is returned by Forget for a peer the node does not know.
var ErrUnknownPeer = errors.New("not a peer in the conversation")

// dropPeerLocked removes p and what is pending for it, returning a
// Cancelled for each message given up on, oldest first. It touches only
// memory: the caller sees to the store. n.outMu and n.mu must be held.
func (n *Node) dropPeerLocked(p *peer) []Event {
	delete(n.peers, p.addr)
	var dropped []pendingSent
	for r, s := range n.pending {
		if r.peer == p.addr {
			dropped = append(dropped, s)
			n.removePendingLocked(r)
		}
	}
	for r := range n.cancelled {
		if r.peer == p.addr {
			delete(n.cancelled, r)
		}
	}
	n.pendingDropped += len(dropped)
	if n.pendingDropped > 2*len(n.pending)+1024 {
		// A Go map keeps the room it grew to: after a flood of contacts,
		// each with every line queued, copy what is left into one of
		// its size, so that memory returns to what the living need.
		// Amortised: at most once per as many drops as are left.
		n.pending = maps.Collect(maps.All(n.pending))
		n.pendingByID = maps.Collect(maps.All(n.pendingByID))
		n.cancelled = maps.Collect(maps.All(n.cancelled))
		n.pendingDropped = 0
	}
	slices.SortFunc(dropped, func(a, b pendingSent) int { return cmp.Compare(a.seq, b.seq) })
	evs := make([]Event, len(dropped))
	for i, s := range dropped {
		evs[i] = Cancelled{ID: s.ID, To: s.To}
	}
	return evs
}

// Unanswered lists the peers the user chose (--peer, /connect) that have
// not answered in this run, sorted: what a UI reports at the end as "no
// one answered at ADDR". What was sent to them is held in memory only
// (Sent.Kept is false), unless they answered in an earlier run.
func (n *Node) Unanswered() []netip.AddrPort {
	if n.plain {
		return nil // nothing answers there: it only sends
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []netip.AddrPort
	for _, p := range n.sortedPeersLocked() {
		if p.chosen && !p.answered {
			out = append(out, p.addr)
		}
	}
	return out
}
