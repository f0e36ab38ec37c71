package chat

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
)

// Plain mode's peers: the plain link hands up every datagram as it came,
// from any address, with nothing to tell a real peer from a forged source.
// Who a datagram is from, who gets what we send, and who is forgotten:
//
//   - A datagram from another port of the host of an address the user chose
//     (--peer, /connect), under that peer's name, is that peer's: the
//     threaded classic script listens on one port and sends from another.
//     Replies go to the chosen address only.
//   - An address that wrote once is shown, but is not sent what is sent to
//     everyone until it writes again or the user chooses it: a single
//     datagram is all a forged source costs.
//   - The table of plain peers is bounded (maxPlainPeers): over the bound,
//     those that wrote once go first, then those heard from longest ago;
//     chosen ones stay.

// maxPlainPeers bounds the plain peers a node keeps, besides those the user
// chose: far more than a classroom, far fewer than a flood.
const maxPlainPeers = 256

// plainSeen is what the node knows of a plain peer beyond every peer's
// record. Node.mu guards it.
type plainSeen struct {
	// datagrams is how many datagrams it sent, up to 2: one makes it
	// known, two make it a member.
	datagrams uint8
	// heard is Node.plainClock at its last datagram.
	heard uint64
	// skipNoted says Send has said once that it was not sent to.
	skipNoted bool
}

// plainSenderLocked is the peer a datagram from from, under name, is from:
// from itself if it is a peer; else a chosen peer on from's host with that
// name, or, if there is exactly one chosen peer there with no name yet,
// that one (a script's first line names it); else from, a new peer.
func (n *Node) plainSenderLocked(from netip.AddrPort, name string) netip.AddrPort {
	if _, ok := n.peers[from]; ok || name == "" {
		return from
	}
	var nameless []*peer
	for _, p := range n.peers {
		if !p.chosen || p.addr.Addr() != from.Addr() {
			continue
		}
		if p.name == name {
			return p.addr
		}
		if p.name == "" {
			nameless = append(nameless, p)
		}
	}
	if len(nameless) == 1 {
		return nameless[0].addr
	}
	return from
}

// plainPeerLocked returns the record of addr, adding one if it is new and
// making room for it first: see evictPlainLocked.
func (n *Node) plainPeerLocked(addr netip.AddrPort) *peer {
	if p, ok := n.peers[addr]; ok {
		return p
	}
	if len(n.peers) >= maxPlainPeers {
		n.evictPlainLocked()
	}
	return n.peerLocked(addr)
}

// evictPlainLocked drops one peer the user did not choose: one that wrote
// once before one that wrote more, and of those the one heard from longest
// ago. It drops nothing if the user chose them all.
func (n *Node) evictPlainLocked() {
	var victim *peer
	for _, p := range n.peers {
		if p.chosen {
			continue
		}
		if victim == nil || cmp.Or(cmp.Compare(p.plain.datagrams, victim.plain.datagrams), cmp.Compare(p.plain.heard, victim.plain.heard)) < 0 {
			victim = p
		}
	}
	if victim != nil {
		n.log.Debug("plain peer table full: forgot a peer", "peer", victim.addr, "datagrams", victim.plain.datagrams)
		delete(n.peers, victim.addr)
	}
}

// plainSkippedLocked says which peers Send leaves out because they wrote
// only once, if any: every time if nothing is sent (all is true), else
// once per peer.
func (n *Node) plainSkippedLocked(all bool) error {
	var skipped []string
	var first netip.AddrPort
	count := 0
	for _, p := range n.sortedPeersLocked() {
		if p.member || p.plain.datagrams == 0 || (p.plain.skipNoted && !all) {
			continue
		}
		p.plain.skipNoted = true
		if count == 0 {
			first = p.addr
		}
		count++
		if len(skipped) < 3 {
			who := p.addr.String()
			if p.name != "" {
				who = p.name + " (" + who + ")"
			}
			skipped = append(skipped, who)
		}
	}
	if count == 0 {
		return nil
	}
	who := strings.Join(skipped, ", ")
	if count > len(skipped) {
		who += fmt.Sprintf(" and %d more", count-len(skipped))
	}
	have, gets := "has", "it gets"
	if count > 1 {
		have, gets = "have", "each gets"
	}
	return fmt.Errorf("not sent to %s, which %s written only once (a forged address costs one datagram): %s messages once it writes again, or after /connect %s",
		who, have, gets, first)
}
