package rooms

import (
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// FuzzReceivePost feeds a member of a room arbitrary datagrams as from a
// relay's fan-out of the room: it drops what is wrong and never fails.
func FuzzReceivePost(f *testing.F) {
	s := newSim(f, 3, 9)
	s.found(wire.RoomHistoryLast, 3, 3)
	s.flush()
	for _, d := range []wire.RoomDatagram{
		{Type: wire.RoomMessage, Peer: s.ids[2], Epoch: 3, Seq: 2, Lamport: 4, Body: make([]byte, 80)},
		{Type: wire.RoomAck, Peer: s.ids[1], Seq: 7},
		{Type: wire.RoomStatus, Heads: []uint64{5, 7}, Epoch: 3},
	} {
		d.Room = s.room
		b, _ := wire.AppendRoom(nil, &d)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1+wire.RoomIDLen {
			copy(b[1:], s.room[:])
		}
		s.nodes[0].ReceivePost(s.room, b) //nolint:errcheck // drops are the point
		s.nodes[0].Tick()
		s.nodes[0].Outbox()
		s.nodes[0].Events()
	})
}
