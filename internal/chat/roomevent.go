package chat

import (
	"errors"
	"time"
)

// RoomID names a room: 16 random bytes its founder chose. A room's name
// (RoomInfo.Name) is only this user's label for it.
type RoomID [16]byte

// RoomMsgID names a room message: its sender and the sender's seq in the room.
type RoomMsgID struct {
	Sender [32]byte
	Seq    uint64
}

// RoomInfo is one room as a UI lists it.
type RoomInfo struct {
	ID      RoomID
	Name    string   // this user's label for it
	Members []string // display names, founder first
	Founder bool     // this user founded it (and so may invite)
	Topic   string   // "" if none was set
	// Fanout: its messages go once through a relay's fan-out, not to every
	// member over the pairwise sessions (docs/PROTOCOL.md RL9).
	Fanout bool
}

// Rooms is what a UI asks of the rooms (Node.Rooms): group conversations
// replicated among their members (docs/PROTOCOL.md, Rooms). A room is named
// by its label; a person by a display name or address of a connected peer.
type Rooms interface {
	// Create founds a room called name.
	Create(name string) (RoomInfo, error)
	// Invite adds person to room (founder only); the invitee joins with
	// Join. ErrInviteWaits says it is made once their room key arrives:
	// they connected a moment ago, or run an udpchat without rooms.
	Invite(room, person string) error
	// Join accepts the invitation to room.
	Join(room string) error
	// Leave leaves room for good: the founder removes this user when it
	// hears; from now on nothing of the room is shown and nothing can be
	// said in it. The
	// founder cannot leave. Only a new invitation brings the user back.
	Leave(room string) error
	// Remove removes the member person (a name or key fingerprint of a
	// member, or a connected peer) from room (founder only): it gets
	// nothing said from then on.
	Remove(room, person string) error
	// SetTopic sets room's topic (founder only); every member is told
	// (RoomTopic).
	SetTopic(room, topic string) error
	// Say sends text to room; it is stored before it goes.
	Say(room, text string) (RoomMessage, error)
	// List returns the rooms this user is in, in the order they were added.
	List() []RoomInfo
	// History returns room's messages in the room's one order.
	History(room string) ([]RoomMessage, error)
	// Missing lists the members that do not have the message yet.
	Missing(room string, msg RoomMsgID) ([]string, error)
	// SendFile offers the file at path to every other member of room,
	// each a transfer of its own (File* events, per member): those
	// connected now, and each other member when it next connects while
	// this node runs. A member removed from the room gets no more offers,
	// and its transfer under way stops. The room gets a note that the
	// file was shared. It hashes the file first (once, for every member):
	// call it from another goroutine than the one reading Events.
	SendFile(room, path string) (RoomFileOffer, error)
}

// RoomFileOffer says what Rooms.SendFile did: the transfers offered now,
// and the members (Later) offered it when they connect.
type RoomFileOffer struct {
	Room     RoomID
	RoomName string
	Offered  []FileTransfer
	Later    []string
}

// ErrInviteWaits is Rooms.Invite's news that the invitation is made as soon
// as the invitee's room key arrives (a MembersChanged says when).
var ErrInviteWaits = errors.New("the invitation goes as soon as their room key arrives (they connected a moment ago, or their udpchat has no rooms)")

// Rooms returns the node's rooms, nil if it carries none (see CarryRooms).
func (n *Node) Rooms() Rooms {
	if c := n.rooms.get(); c != nil {
		return c
	}
	return nil
}

// RoomMessage is a message said in a room: someone else's that arrived, or
// (Own) ours as sent.
type RoomMessage struct {
	Room     RoomID
	RoomName string
	ID       RoomMsgID
	From     string // the sender's display name
	Text     string
	Own      bool
	History  bool // said before this user joined
	At       time.Time
}

// RoomInvite says someone invited this user to a room; Rooms.Join accepts.
// It comes again only when the invitation's members change before this
// user says yes (Changed).
type RoomInvite struct {
	Room     RoomID
	RoomName string // the founder's name for it, this user's until changed
	From     string // the founder
	Members  []string
	Changed  bool // an invitation shown before, whose members changed since
}

// RoomDelivery says K of the N members one of our room messages was for
// have it on disk.
type RoomDelivery struct {
	Room     RoomID
	RoomName string
	ID       RoomMsgID
	K, N     int
}

// MembersChanged says a room's membership changed (this user joined it,
// someone was added or removed); Removed says this user was, by the
// founder (a removal that answers this user's Leave is not news); Left,
// that this user left (the UI that called Rooms.Leave says so itself).
// Added and Gone name who came and went since the last change this run
// saw.
type MembersChanged struct {
	Room        RoomID
	RoomName    string
	Members     []string
	Added, Gone []string
	Removed     bool
	Left        bool
}

// RoomTopic says a room's topic was set (by its founder, From).
type RoomTopic struct {
	Room     RoomID
	RoomName string
	From     string
	Topic    string
}

func (RoomTopic) isEvent()      {}
func (RoomMessage) isEvent()    {}
func (RoomInvite) isEvent()     {}
func (RoomDelivery) isEvent()   {}
func (MembersChanged) isEvent() {}
