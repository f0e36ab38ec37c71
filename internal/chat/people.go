package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/store"
)

// People: on a link with keys (PeerKeys), a peer is a person, its public
// key, wherever it writes from. The store keeps them as contacts
// (PeopleStore), the messages exchanged with them carry their key, and what
// waits for a person follows them to the address they come back from
// (follow.go).

// PeopleStore is a MessageStore that also keeps contacts: people by key,
// with the names and addresses they were seen at. *store.MessageDB is one;
// the node finds it by asking its Config.Store, so that a store made for a
// test that has no people keeps everything by address, as before.
type PeopleStore interface {
	ContactSeen(ctx context.Context, sg store.Sighting) error
	Contact(ctx context.Context, key [32]byte) (store.Contact, error)
	MarkDeliveredBy(ctx context.Context, person [32]byte, id [16]byte) error
	MarkHeldBy(ctx context.Context, person [32]byte, id [16]byte) error
	// Forget drops the person and cancels what waits for them, at once.
	Forget(ctx context.Context, key [32]byte) ([]store.Message, error)
	Rename(ctx context.Context, key [32]byte, given string) error
	// ContactNearby marks a contact as heard on the LAN (see SawNearby).
	ContactNearby(ctx context.Context, key [32]byte, at time.Time) (bool, error)
	AssignPeople(ctx context.Context, keys map[string][32]byte) (store.Backfill, error)
}

var _ PeopleStore = (*store.MessageDB)(nil)

// HistoryByAddress says, once, that the history kept from before people
// (schemas 1 to 4) has messages exchanged with addresses whose keys were
// never known: they stay readable under their address, but belong to no
// contact. New emits it when the one-time move to people (see
// Config.KnownKeys) leaves such messages.
type HistoryByAddress struct {
	Messages  int
	Addresses []string
}

func (HistoryByAddress) isEvent() {}

func (e HistoryByAddress) String() string {
	msgs, stay := "messages", "stay"
	if e.Messages == 1 {
		msgs, stay = "message", "stays"
	}
	if len(e.Addresses) == 1 {
		return fmt.Sprintf("%d %s with %s, whose key was never known, %s in the history under that address", e.Messages, msgs, e.Addresses[0], stay)
	}
	return fmt.Sprintf("%d %s with %d addresses whose keys were never known %s in the history under their address",
		e.Messages, msgs, len(e.Addresses), stay)
}

// assignPeople is the one-time move of the history to people: the
// addresses of keys (see Config.KnownKeys) become contacts with their
// messages. It returns the event that says what could not be moved, the
// first time only.
func (n *Node) assignPeople(keys map[netip.AddrPort][32]byte) ([]Event, error) {
	byAddr := make(map[string][32]byte, len(keys))
	for addr, key := range keys {
		byAddr[PeerKey(Unmap(addr))] = key
	}
	b, err := n.people.AssignPeople(storeCtx, byAddr)
	if err != nil {
		return nil, fmt.Errorf("moving the history to people: %w", err)
	}
	if !b.Ran || b.Unmapped == 0 {
		return nil, nil
	}
	return []Event{HistoryByAddress{Messages: b.Unmapped, Addresses: b.UnmappedPeers}}, nil
}

// sighted records that the person key, announcing name, was seen at addr,
// in the contacts: the user chose the address (Source flag) or a packet
// came from it. It returns the name the user gave them, if any. A store
// that fails is reported, not fatal: the chat goes on by address.
func (n *Node) sighted(key [32]byte, name string, addr netip.AddrPort, chosen bool) (given string, err error) {
	if n.people == nil || key == ([32]byte{}) {
		return "", nil
	}
	src := store.FromPacket
	if chosen {
		src = store.FromFlag
	}
	if err := n.people.ContactSeen(storeCtx, store.Sighting{Key: key, AnnouncedName: name, Address: PeerKey(addr), Source: src}); err != nil {
		return "", fmt.Errorf("%s at %s is not in the contacts: %w", name, addr, err)
	}
	if n.heardNearby(key) { // heard before they became a contact: mark them now
		n.markNearby(key, name)
	}
	c, err := n.people.Contact(storeCtx, key)
	if err != nil {
		return "", err
	}
	return c.GivenName, nil
}

// lastSeenAt is the address person was last seen at, by the contacts, or
// ok false if the store does not know.
func (n *Node) lastSeenAt(person [32]byte) (addr netip.AddrPort, ok bool) {
	if n.people == nil || person == ([32]byte{}) {
		return netip.AddrPort{}, false
	}
	c, err := n.people.Contact(storeCtx, person)
	if err != nil || len(c.Endpoints) == 0 {
		return netip.AddrPort{}, false
	}
	addr, err = peerAddr(c.Endpoints[0].Address)
	return addr, err == nil
}

// ErrNoKey is returned by Rename for a peer whose key is not known: one
// that has not joined on a link with keys, or any peer on one without.
var ErrNoKey = errors.New("its key is not known yet, so it is not a contact (it has not joined, or the link has no keys)")

// Rename gives the person at peer the name given, which the UIs call them
// by from now on (and the store remembers for later runs), whatever name
// they announce: it is /rename. "" takes the given name away. It needs the
// person's key: a name belongs to a person, not to an address.
func (n *Node) Rename(peer netip.AddrPort, given string) error {
	if given != "" {
		if err := ValidateName(given); err != nil {
			return err
		}
	}
	peer = Unmap(peer)
	n.mu.Lock()
	p := n.peers[peer]
	var person [32]byte
	if p != nil {
		person = p.person
	}
	n.mu.Unlock()
	switch {
	case p == nil:
		return fmt.Errorf("rename %s: %w", peer, ErrUnknownPeer)
	case n.people == nil:
		return fmt.Errorf("rename %s: names given to people are kept in the store, and there is none (--no-store, or plain mode)", peer)
	case person == ([32]byte{}):
		return fmt.Errorf("rename %s: %w", peer, ErrNoKey)
	}
	if err := n.people.Rename(storeCtx, person, given); err != nil {
		return fmt.Errorf("rename %s: %w", peer, err)
	}
	n.mu.Lock()
	for _, q := range n.peers {
		if q.person == person {
			q.given = given
		}
	}
	n.mu.Unlock()
	return nil
}
