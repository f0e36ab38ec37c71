package relaycluster

import (
	"encoding/hex"
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/udpchat/udpchat/internal/relay"
)

// The room fan-out between relays (docs/PROTOCOL.md RL9): a relay with
// subscribers of a room subscribes to the room's subject on core NATS, and
// publishes each post one of its clients makes there once, so each relay
// receives it once and queues it for its own subscribers.
const (
	// roomSubjectPrefix and a room's ID in hex make the room's subject.
	roomSubjectPrefix = "udpchat.room."
	// originHeader names the relay that published a post: NATS hands a
	// relay its own posts too, and it has queued them for its clients
	// already.
	originHeader = "Udpchat-Relay"
)

// Relay is what Run hands the cluster's messages to: a relay.Server.
type Relay interface {
	// FromCluster takes a peer message for a client of the relay.
	FromCluster(msg []byte)
	// FromClusterRoom takes a room deliver for the relay's subscribers of
	// its room.
	FromClusterRoom(msg []byte)
}

func roomSubject(room relay.RoomID) string { return roomSubjectPrefix + hex.EncodeToString(room[:]) }

// JoinRoom subscribes to room's subject: the relay has subscribers of it
// now. Posts that come before Run are dropped.
func (c *Cluster) JoinRoom(room relay.RoomID) {
	sub, err := c.cfg.Conn.Subscribe(roomSubject(room), func(m *nats.Msg) {
		if m.Header.Get(originHeader) == c.id {
			return // our own: queued here already
		}
		if r := c.relay.Load(); r != nil {
			(*r).FromClusterRoom(m.Data)
		}
	})
	if err != nil { // the connection is closed: the relay is stopping
		c.log.Debug("relay cluster: subscribe to a room", "err", err)
		return
	}
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if old := c.rooms[room]; old != nil {
		old.Unsubscribe()
	}
	c.rooms[room] = sub
}

// LeaveRoom unsubscribes from room's subject: its last subscriber here
// left.
func (c *Cluster) LeaveRoom(room relay.RoomID) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if sub := c.rooms[room]; sub != nil {
		sub.Unsubscribe()
		delete(c.rooms, room)
	}
}

// PublishRoom queues msg for room's subject, or says false when the queue
// is full.
func (c *Cluster) PublishRoom(room relay.RoomID, msg []byte) bool {
	return c.enqueue(outMsg{subject: roomSubject(room), data: slices.Clone(msg), room: true})
}
