package rooms

import (
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// statusRounds is a status period in rounds of the simulation.
const statusRounds = int(StatusPeriod / time.Second)

// Ten members on a network that loses 30 % of datagrams, duplicates some
// and reorders them; 500 messages from random members. Every member ends
// with all of them in one order, none shown twice, each counted as stored
// by all nine others at its sender.
func TestLossyRoomConverges(t *testing.T) {
	s := newSim(t, 10, 1)
	s.loss, s.dup = 0.3, 0.1
	all := span(0, 10)
	s.found(wire.RoomHistoryAll, 0, 10)
	s.runUntil(300, "everyone joins", func() bool { return s.joined(all, 10) })
	for i := range 500 {
		s.send(s.rng.IntN(10), "message")
		if i%5 == 4 {
			s.step()
		}
	}
	s.runUntil(500, "everyone has all 500", func() bool { return s.agreed(all, 500) })
	s.runUntil(3*statusRounds, "every member counted as having every message", func() bool { return s.delivered(all) })
	s.checkOnce()
}
