package rooms

import (
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// FanoutMembers is the room size above which, with a fan-out at hand
// (SetFanout), a message goes once to the room's relay fan-out instead of
// once to every member (docs/PROTOCOL.md RL9): at 32 the pairwise copies
// of one message are already 31 datagrams.
const FanoutMembers = 32

// SetFanout says whether the chat can post to a relay's room fan-out: it is
// registered with a relay and subscribed there to the rooms Fanout names.
func (n *Node) SetFanout(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fanout = on
}

// Fanout says whether room id's messages go through the relay fan-out
// (true: the room is over the fan-out size and there is a fan-out) or
// member by member over the pairwise sessions, the mesh (false).
func (n *Node) Fanout(id RoomID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	return r != nil && n.fanout && n.bigRoom(r)
}

// bigRoom says whether r is over the fan-out size.
func (n *Node) bigRoom(r *room) bool {
	above := n.cfg.FanoutAbove
	if above <= 0 {
		above = FanoutMembers
	}
	return len(r.current()) > above
}

// post queues sealed, a message datagram of r, as one room post when r is
// big, a fan-out is at hand and sealed fits a post; and says whether it did.
// A message too long for a post goes member by member, as do all repairs.
func (n *Node) post(r *room, sealed []byte) bool {
	if !n.fanout || len(sealed) > wire.MaxRoomFanout || !n.bigRoom(r) {
		return false
	}
	n.stats.Sent++
	n.out = append(n.out, Outgoing{Post: true, Room: r.id, Datagram: sealed})
	return true
}

// ReceivePost handles a room datagram that came through a relay's fan-out
// of room (RL9). The relay is not trusted to say who posted it: only a
// message datagram is taken, which its sender's sender key seals and its
// signing key signs, and it is checked as from the sender it names. Any
// other kind (status, acks, repairs), which rests on the pairwise session
// for who sent it, is dropped as forged.
func (n *Node) ReceivePost(room RoomID, b []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Received++
	d, err := wire.ParseRoom(b)
	if err != nil {
		n.stats.Drops[DropMalformed]++
		return err
	}
	if d.Type != wire.RoomMessage || RoomID(d.Room) != room || keys.PublicKey(d.Peer) == n.cfg.Self {
		return n.drop(DropForged, ErrForged)
	}
	return n.receive(d.Peer, &d, true)
}
