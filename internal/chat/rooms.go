package chat

import (
	"errors"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/udpchat/udpchat/internal/wire"
)

// Rooms ride the pairwise sessions: the node carries room payloads
// (wire.ChatRoom) between people and tells a RoomCarrier who can be reached;
// the rooms themselves live in the carrier (internal/chat/roomchat), which
// posts what happens in them back as Events (roomevent.go).

// RoomCarrier is what the node hands room payloads and people's sessions
// to. Its methods are called from the link's goroutine, one at a time, with
// no lock of the node's held: they may call SendRoom and Post.
type RoomCarrier interface {
	Rooms
	// RoomPayload handles a room payload (wire.ParseRoomPayload) that
	// person sent. It is acknowledged whatever it returns: the rooms
	// repair what is lost themselves.
	RoomPayload(person [32]byte, payload []byte)
	// PersonUp says a session with person is up and it has introduced
	// itself (joined), or it answers again after it went silent.
	PersonUp(person [32]byte)
	// PersonDown says person cannot be reached directly for now: it left,
	// went silent or was forgotten.
	PersonDown(person [32]byte)
}

// ErrNotConnected is returned by SendRoom for a person with no session up.
var ErrNotConnected = errors.New("chat: that person is not connected")

// roomCarrier is the RoomCarrier set by CarryRooms, nil before.
type roomCarrier struct{ atomic.Pointer[RoomCarrier] }

func (c *roomCarrier) get() RoomCarrier {
	if p := c.Load(); p != nil {
		return *p
	}
	return nil
}

// CarryRooms makes c the node's RoomCarrier. Set it before peers connect:
// a room payload that arrives without one is dropped (Stats.Undecodable).
func (n *Node) CarryRooms(c RoomCarrier) { n.rooms.Store(&c) }

// SendRoom sends a room payload to person over its session, if one is up
// and it joined.
func (n *Node) SendRoom(person [32]byte, payload []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	for addr, p := range n.peers {
		if p.person == person && p.joined && p.inSession && p.state == PeerOnline {
			_, err := n.link.Send(addr, payload)
			return err
		}
	}
	return ErrNotConnected
}

// Post delivers evs to the UI, in order, after every event already
// produced: the carrier's news of the rooms.
func (n *Node) Post(evs ...Event) { n.update(func() []Event { return evs }) }

// Person returns the key of who is at addr, zero if not known.
func (n *Node) Person(addr netip.AddrPort) [32]byte { return n.personAt(addr) }

// receiveRoom hands a room payload to the carrier, if there is one and the
// sender's key is known; else it is dropped and counted.
func (n *Node) receiveRoom(from netip.AddrPort, msg []byte) error {
	c, person := n.rooms.get(), n.personAt(from)
	if c == nil || person == ([32]byte{}) || !wire.IsRoomPayload(msg) {
		n.stats.undecodable.Add(1)
		n.log.Debug("dropped room payload", "peer", from, "len", len(msg))
		return nil
	}
	c.RoomPayload(person, slices.Clone(msg)) // the link reuses msg's memory
	return nil
}

// roomsPersonUp and roomsPersonDown tell the carrier, if any, of the
// person at addr, if known.
func (n *Node) roomsPersonUp(person [32]byte) {
	if c := n.rooms.get(); c != nil && person != ([32]byte{}) {
		c.PersonUp(person)
	}
}

func (n *Node) roomsPersonDown(addr netip.AddrPort) {
	if c := n.rooms.get(); c != nil {
		if person := n.personAt(addr); person != ([32]byte{}) {
			c.PersonDown(person)
		}
	}
}
