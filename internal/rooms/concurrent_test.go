package rooms

import (
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// The chat will call a Node from several goroutines at once (its links'
// readers, its ticker, the UI sending): Send, Receive, Tick, Outbox and the
// queries may interleave freely. Under -race this checks the locking.
func TestNodeIsSafeForConcurrentUse(t *testing.T) {
	s := newSim(t, 2, 13)
	s.found(wire.RoomHistoryAll, 0, 2)
	s.flush()
	const each = 100
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			for range each {
				if _, err := s.nodes[i].Send(s.room, []byte("hi")); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range each {
				s.nodes[i].Tick()
				s.nodes[i].Messages(s.room)
				s.nodes[i].Events()
				s.nodes[i].Stats()
			}
		})
	}
	// One carrier, as the links would: what each sends reaches the other.
	wg.Go(func() {
		for range 10 * each {
			for i := range 2 {
				for _, o := range s.nodes[i].Outbox() {
					s.nodes[1-i].Receive(s.ids[i], o.Datagram) //nolint:errcheck // counted
				}
			}
		}
	})
	wg.Wait()
	s.flush()
	for i := range 2 {
		if got := len(s.nodes[i].Messages(s.room)); got != 2*each {
			t.Errorf("member %d holds %d messages, want %d", i, got, 2*each)
		}
	}
}
