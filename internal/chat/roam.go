package chat

import (
	"net/netip"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/store"
)

// Roaming: a peer that changes address (a laptop moving to another
// network) keeps its session, and the link goes on naming it by the
// address it first knew it at, its handle (docs/PROTOCOL.md S5.4). So the
// node's table, outbox and history stay keyed as they were; the node only
// records where the peer is now, for the UIs (PeerInfo.Endpoint) and for
// whoever keeps the peer's addresses (Moved).

var _ link.Roamer = (*Node)(nil)

// PeerRoamed records that peer's datagrams now come from endpoint, and
// says so (Moved) if the peer was announced: like its other comings and
// goings (see PeerUnreachable), the move of a peer the user never saw join
// is no news. The link calls it from its own goroutine, as every Handler
// method, and it waits for the UI as they do (see emit).
func (n *Node) PeerRoamed(peer, endpoint netip.AddrPort) {
	endpoint = Unmap(endpoint)
	n.contactRoamed(peer, endpoint)
	n.update(func() []Event {
		p := n.peers[peer]
		if p == nil {
			return nil // forgotten meanwhile: its next session starts anew
		}
		from := p.info().At()
		if endpoint == from {
			return nil
		}
		p.endpoint = endpoint
		if !p.present {
			return nil
		}
		return []Event{Moved{Peer: peer, Name: p.displayName(), From: from, To: endpoint, Path: p.info().Path}}
	})
}

// contactRoamed records in the contacts that the person at peer (if it
// joined, so its key is known) is now seen at endpoint: where the outbox
// looks for them at the next start. Not under n.mu: a store write. A store
// that fails costs only that: the person is found again when they write.
func (n *Node) contactRoamed(peer, endpoint netip.AddrPort) {
	if n.people == nil {
		return
	}
	n.mu.Lock()
	var person [32]byte
	var name string
	if p := n.peers[peer]; p != nil && p.joined {
		person, name = p.person, p.name
	}
	n.mu.Unlock()
	if person == ([32]byte{}) {
		return
	}
	sg := store.Sighting{Key: person, AnnouncedName: name, Address: PeerKey(endpoint), Source: store.FromPacket}
	if err := n.people.ContactSeen(storeCtx, sg); err != nil {
		n.log.Debug("a contact's new endpoint is not stored", "peer", peer, "endpoint", endpoint, "err", err)
	}
}
