package chat

import (
	"fmt"
	"net/netip"
	"slices"
)

// The peer table: who the node knows, keyed by address (Node.peers), and
// who of them a message goes to. It is kept here, apart from sending and
// receiving, because it is what changes when peers are known by key
// rather than by address: the table, its lookups and the recipient rules
// are the node's whole idea of who a peer is. (Plain mode's own rules for
// its table are in plainpeers.go; dropping a peer is in forget.go.)

// Connect adds peer to the conversation and asks the link to start a
// session with it; it does not wait for an answer (Joined says when the
// peer has introduced itself). It is /connect: until the peer answers,
// what is sent to it is held in memory only (see Sent.Kept), so that a
// mistyped address leaves nothing for later runs to wait on.
func (n *Node) Connect(addr netip.AddrPort) error { return n.connect(addr, false) }

// ConnectKept is Connect for a peer the user configured to start with
// (--peer): what is sent to it goes in the outbox even before it answers,
// since a configured peer may simply not be up yet, and what a user
// starts udpchat to send must survive a crash until it comes up. Those
// that never answer are named at the end (Unanswered), and udpchat
// history --cancel-peer gives up on them.
func (n *Node) ConnectKept(addr netip.AddrPort) error { return n.connect(addr, true) }

func (n *Node) connect(addr netip.AddrPort, keep bool) error {
	if !addr.IsValid() || addr.Port() == 0 {
		return fmt.Errorf("connect to %s: not a peer address", addr)
	}
	addr = Unmap(addr)
	known := n.knownPersonAt(addr) // not under mu: see PeerCheck
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	p := n.peerLocked(addr)
	if p.person == ([32]byte{}) {
		p.person = known
	}
	p.member, p.chosen = true, true
	p.kept = p.kept || keep
	// One already in session (it contacted us first) hears our name now.
	err := n.greetLocked(p)
	link := n.link
	n.mu.Unlock()
	if err := link.Connect(addr); err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	return err
}

// Peers lists everyone in the conversation, sorted by address.
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	ps := n.sortedPeersLocked()
	infos := make([]PeerInfo, len(ps))
	for i, p := range ps {
		infos[i] = p.info()
	}
	n.mu.Unlock()
	// Not under mu: the link below has locks of its own, taken on paths
	// that end in the node.
	if n.peerCheck != nil {
		for i := range infos {
			infos[i].Fingerprint = n.peerCheck.Fingerprint(infos[i].Addr)
		}
	}
	return infos
}

// PeersKnown is Peers, with a peer that has not introduced itself in this
// run named as the user knows its person (Config.KnownName): for the
// reports of who something is for, where a chosen peer who has not joined
// yet (the relay holds what is theirs) would otherwise be a bare address.
func (n *Node) PeersKnown() []PeerInfo {
	infos := n.Peers()
	if n.knownName == nil {
		return infos
	}
	for i, p := range infos {
		if p.Name == "" && p.Person != ([32]byte{}) {
			infos[i].Name = n.knownName(p.Person)
		}
	}
	return infos
}

func (n *Node) sortedPeersLocked() []*peer {
	ps := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *peer) int { return a.addr.Compare(b.addr) })
	return ps
}

// membersLocked is who a message to everyone goes to: the members of the
// conversation (see peer.member), sorted by address. n.mu must be held.
func (n *Node) membersLocked() []*peer {
	return slices.DeleteFunc(n.sortedPeersLocked(), func(p *peer) bool { return !p.member })
}

// recipientLocked is the peer a message to addr alone goes to: it must be
// in the table, member or not (/msg names one the user sees). n.mu must be
// held.
func (n *Node) recipientLocked(addr netip.AddrPort) (*peer, error) {
	addr = Unmap(addr)
	p := n.peers[addr]
	if p == nil {
		return nil, fmt.Errorf("%s is not in the conversation: /connect it first", addr)
	}
	return p, nil
}

// peerLocked returns the record of addr, adding one if it is new.
func (n *Node) peerLocked(addr netip.AddrPort) *peer {
	p := n.peers[addr]
	if p == nil {
		p = &peer{addr: addr, person: n.expected[addr], paths: n.paths}
		if n.plain {
			p.state = PeerPlain
		}
		n.peers[addr] = p
	}
	return p
}

// keepsLocked says, for each of peers, whether what we send it goes in the
// outbox, to be sent again by later runs until it is delivered. Only a
// peer the user configured (--peer: ConnectKept), or chose (/connect) and
// that has answered, in this run or an earlier one (its key is known at
// that address), gets outbox rows: the outbox is for people, not for every address that contacted
// us, nor for a mistyped one, which would make every later run wait on it.
// For the others a message is held in memory while this node runs, and
// recorded in the history as sent. n.mu must be held; PeerCheck.Known
// takes no lock of the link's (see Peers about lock order).
func (n *Node) keepsLocked(peers []*peer) map[netip.AddrPort]bool {
	kept := make(map[netip.AddrPort]bool, len(peers))
	if n.store == nil || n.plain {
		return kept
	}
	for _, p := range peers {
		kept[p.addr] = p.chosen && (p.kept || p.answered || n.knownBefore(p.addr))
	}
	return kept
}

// knownBefore reports whether a key answered at peer in an earlier run,
// if PeerCheck can tell.
func (n *Node) knownBefore(peer netip.AddrPort) bool {
	k, ok := n.peerCheck.(interface{ Known(netip.AddrPort) bool })
	return ok && k.Known(peer)
}
