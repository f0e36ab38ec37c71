package relay

import (
	"github.com/udpchat/udpchat/internal/wire"
)

// RoomID names a room: the rooms' own ID (internal/rooms), which the relay
// takes as an opaque label.
type RoomID = [wire.RoomIDLen]byte

// MaxRoomsPerClient bounds the rooms one client subscribes to at a relay,
// so that a client's subscriptions cost the relay fixed memory.
const MaxRoomsPerClient = 64

// The room fan-out (docs/PROTOCOL.md RL9). A room's members subscribe to
// its ID at their relay; a member posts each room datagram once, and the
// relay queues it for every other subscriber here and publishes it once to
// the cluster, whose relays with subscribers of the room queue it for
// theirs. The relay cannot tell a member from anyone else: the datagram is
// sealed and signed by the room's own keys (internal/rooms), so a
// subscriber who is no member learns only sizes and timing.

// subscribe adds c to room's subscribers here (on) or takes it off. The
// first subscriber here has the cluster send the room's posts to this
// relay; when the last leaves, it stops.
func (s *Server) subscribe(c *client, room RoomID, on bool) {
	_, in := c.rooms[room]
	switch {
	case on && in, !on && !in:
		return
	case on && len(c.rooms) >= MaxRoomsPerClient:
		s.drop(DropRoomsFull)
		return
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	subs := s.rooms[room]
	if on {
		if c.rooms == nil {
			c.rooms = make(map[RoomID]struct{})
		}
		c.rooms[room] = struct{}{}
		if subs == nil {
			subs = make(map[*client]struct{})
			s.rooms[room] = subs
			if s.peer != nil {
				s.peer.JoinRoom(room)
			}
		}
		subs[c] = struct{}{}
		return
	}
	s.leaveLocked(c, room)
}

// leaveLocked takes c off room's subscribers; regMu is held.
func (s *Server) leaveLocked(c *client, room RoomID) {
	delete(c.rooms, room)
	subs := s.rooms[room]
	delete(subs, c)
	if subs != nil && len(subs) == 0 {
		delete(s.rooms, room)
		if s.peer != nil {
			s.peer.LeaveRoom(room)
		}
	}
}

// post fans c's room datagram out: to every other subscriber of the room
// here, and once to the cluster. Only a subscriber may post.
func (s *Server) post(c *client, room RoomID, datagram []byte) {
	if _, in := c.rooms[room]; !in {
		s.drop(DropNotSubscribed)
		return
	}
	if !c.roomLimit.Allow() {
		s.drop(DropRateLimited)
		return
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b, err := wire.AppendRelay((*bp)[:0], wire.RelayMessage{Type: wire.TypeRelayRoomDeliver, Key: c.key, Room: room, Payload: datagram})
	if err != nil { // a post that parsed always makes a deliver
		s.log.Error("relay: cannot encode a room deliver", "err", err)
		return
	}
	*bp = b
	s.c.roomPosts.Add(1)
	s.fanOut(room, b, c)
	if s.peer != nil {
		if s.peer.PublishRoom(room, b) {
			s.c.roomPeerSent.Add(1)
		} else {
			s.drop(DropPeerBusy)
		}
	}
}

// fanOut queues deliver, a room deliver as it goes on the wire, for every
// subscriber of room here but from.
func (s *Server) fanOut(room RoomID, deliver []byte, from *client) {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	subs := s.rooms[room]
	if len(subs) == 0 {
		return
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	for c := range subs {
		if c == from {
			continue
		}
		bp := bufPool.Get().(*[]byte)
		*bp = append((*bp)[:0], deliver...)
		s.pushLocked(c, outPacket{buf: bp, room: true})
	}
}

// FromClusterRoom takes a room deliver another relay of the cluster
// published, and queues it for this relay's subscribers of its room. The
// Cluster calls it from its own goroutine, only for rooms this relay joined
// and never with this relay's own posts. One that does not parse is dropped
// and counted.
func (s *Server) FromClusterRoom(b []byte) {
	m, err := wire.ParseRelay(b)
	if err != nil || m.Type != wire.TypeRelayRoomDeliver {
		s.drop(DropPeerMalformed)
		return
	}
	s.c.roomPeerReceived.Add(1)
	s.fanOut(m.Room, b, nil)
}

// RoomSubscribers is how many clients here subscribe to room now.
func (s *Server) RoomSubscribers(room RoomID) int {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	return len(s.rooms[room])
}
