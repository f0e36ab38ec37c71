package relaypath

import (
	"context"
	"slices"

	"github.com/udpchat/udpchat/internal/relay"
)

// roomQueue bounds the room delivers waiting for the rooms: over it they
// are dropped, as datagrams a full socket buffer drops (the rooms' repair
// makes them good).
const roomQueue = 256

// RoomsHook is what the rooms (roomchat.Bridge, through the chat's
// wiring) hear of the relay's room fan-out (docs/PROTOCOL.md RL9).
type RoomsHook struct {
	// Registered runs after every registration, with the relay in use
	// then: the rooms subscribe again, since a relay that forgot the
	// registration (or the next relay after a failover) forgot them.
	Registered func()
	// Deliver hears each room datagram a relay delivers, off the secure
	// layer's reader. The poster's key the relay names is not passed on:
	// the rooms trust only the room's own keys.
	Deliver func(room relay.RoomID, datagram []byte)
}

type roomDeliver struct {
	room     relay.RoomID
	datagram []byte
}

// CarryRooms gives the path the rooms' hook, and runs Registered now if a
// registration came before it.
func (r *Path) CarryRooms(h RoomsHook) {
	r.mu.Lock()
	r.roomsHook = h
	registered := r.registered
	r.mu.Unlock()
	if registered && h.Registered != nil {
		h.Registered()
	}
}

// SubscribeRoom subscribes at the relay in use to room (on) or stops.
func (r *Path) SubscribeRoom(room relay.RoomID, on bool) error {
	return r.client().SubscribeRoom(room, on)
}

// PostRoom posts a room datagram to the fan-out of the relay in use.
func (r *Path) PostRoom(room relay.RoomID, datagram []byte) error {
	return r.client().PostRoom(room, datagram)
}

// roomCame queues a room deliver for the rooms; relay.Client must not
// keep datagram, hence the copy.
func (r *Path) roomCame(room relay.RoomID, datagram []byte) {
	select {
	case r.roomIn <- roomDeliver{room, slices.Clone(datagram)}:
	default:
		r.log.Debug("relay: a room deliver dropped: the rooms are behind")
	}
}

// afterRegistration tells the rooms of a registration.
func (r *Path) afterRegistration() {
	r.mu.Lock()
	r.registered = true
	h := r.roomsHook
	r.mu.Unlock()
	if h.Registered != nil {
		h.Registered()
	}
}

// deliverRooms hands the queued room delivers to the rooms, off the
// secure layer's reader (the rooms send as they take one).
func (r *Path) deliverRooms(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-r.roomIn:
			r.mu.Lock()
			deliver := r.roomsHook.Deliver
			r.mu.Unlock()
			if deliver != nil {
				deliver(d.room, d.datagram)
			}
		}
	}
}
