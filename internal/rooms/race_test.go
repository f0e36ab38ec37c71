package rooms

import (
	"fmt"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// A member that speaks right after it joined, before it learns that
// someone else was added a moment later, says it under the older
// membership: to the one added later it is history. Whoever answers the
// newcomer's history request before that line reached it must not tell it
// the history is complete, or the newcomer never gets the line; and the
// newcomer's status, whose head for that sender counts the line though its
// share starts after it, must not keep the others asking it alone for the
// line, which it cannot give. Over 20 seeds (reordering differs).
func TestLineRightAfterJoinReachesTheNextNewcomer(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := newSim(t, 4, seed)
			s.found(wire.RoomHistoryAll, 0, 2)
			s.runUntil(100, "the two join", func() bool { return s.joined(span(0, 2), 2) })
			if err := s.nodes[0].Add(s.room, s.ids[2]); err != nil {
				t.Fatal(err)
			}
			s.runUntil(100, "the third joins", func() bool { return s.joined(span(0, 3), 3) })
			const early, late = 2, 3
			s.blocked = func(from, to int) bool { return from == early } // its line is on its way
			hello := s.send(early, "hello, just joined")
			if err := s.nodes[0].Add(s.room, s.ids[late]); err != nil {
				t.Fatal(err)
			}
			for range 8 {
				s.step() // the newcomer joins and asks for its history meanwhile
			}
			s.blocked = nil
			s.runUntil(300, "every member has the line", func() bool {
				for i := range 4 {
					if !slices.Contains(ids(s.nodes[i].Messages(s.room)), hello) {
						return false
					}
				}
				return true
			})
			s.checkOnce()
		})
	}
}
