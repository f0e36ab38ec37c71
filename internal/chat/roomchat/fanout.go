package roomchat

import (
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/wire"
)

// Fanout is a relay's room fan-out (docs/PROTOCOL.md RL9), as the chat's
// relay client offers it (relay.Client's SubscribeRoom and PostRoom). Both
// are datagrams to the relay: lost ones are made good by the rooms' own
// repair, over the pairwise sessions.
type Fanout interface {
	SubscribeRoom(room [wire.RoomIDLen]byte, on bool) error
	PostRoom(room [wire.RoomIDLen]byte, datagram []byte) error
}

// SetFanout gives the rooms a relay's fan-out (nil: none, every room is a
// mesh) and subscribes there to the rooms over rooms.FanoutMembers. The
// chat calls it again after every registration with a relay, the first or
// another one after a failover: a relay that forgot the registration
// forgot the subscriptions too.
func (b *Bridge) SetFanout(f Fanout) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fanout = f
	b.core.SetFanout(f != nil)
	b.subscribed = make(map[rooms.RoomID]bool)
	for _, id := range b.core.Rooms() {
		b.subscribeLocked(id)
	}
}

// subscribeLocked subscribes at the fan-out to room id when its messages
// go there (a room grown over the size), and takes the subscription off
// when they no longer do (shrunk, or this user is out).
func (b *Bridge) subscribeLocked(id rooms.RoomID) {
	on := b.core.In(id) && b.core.Fanout(id)
	if b.fanout == nil || on == b.subscribed[id] {
		return
	}
	if err := b.fanout.SubscribeRoom(id, on); err != nil {
		b.log.Debug("room subscription not sent", "err", err)
	}
	if on {
		b.subscribed[id] = true
	} else {
		delete(b.subscribed, id)
	}
}

// FanoutDeliver hands a room datagram that came through the relay's
// fan-out of room to the core, which takes it only if the room's own keys
// say it is a member's message: the relay's word for who posted it counts
// for nothing.
func (b *Bridge) FanoutDeliver(room [wire.RoomIDLen]byte, datagram []byte) {
	b.do(func() {
		if err := b.core.ReceivePost(room, datagram); err != nil {
			b.log.Debug("room post dropped", "err", err)
		}
	})
}
