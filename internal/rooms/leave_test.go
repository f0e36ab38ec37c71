package rooms

import (
	"errors"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// acceptAll has every member but the founder accept its invitation once it
// has one.
func (s *sim) acceptAll(members []int) {
	s.t.Helper()
	s.runUntil(300, "the invitations arrive", func() bool {
		for _, i := range members {
			if _, _, ok := s.nodes[i].Invitation(s.room); !ok {
				return false
			}
		}
		return true
	})
	for _, i := range members {
		if err := s.nodes[i].Accept(s.room); err != nil {
			s.t.Fatal(err)
		}
	}
}

// A member leaves for good: it asks the founder, who removes it (it asks
// again after a restart until the founder hears it); from then on it gets
// nothing said in the room. Invited back, it says yes again, and then gets
// what is said from then on, but nothing said while it was out; its old
// request to leave, replayed, does not remove it a second time.
func TestLeaveAndComeBack(t *testing.T) {
	s := newConsentSim(t, 4, 21)
	s.loss, s.dup = 0.1, 0.05
	s.found(wire.RoomHistoryAll, 0, 4)
	s.acceptAll(span(1, 4))
	all := span(0, 4)
	s.runUntil(300, "everyone joins", func() bool { return s.joined(all, 4) })
	for range 10 {
		s.send(s.rng.IntN(4), "before")
		s.step()
	}
	s.runUntil(300, "all have the first 10", func() bool { return s.agreed(all, 10) })

	const leaver = 3
	if err := s.nodes[0].Leave(s.room); !errors.Is(err, ErrFounderStays) {
		t.Fatalf("the founder leaving: %v, want ErrFounderStays", err)
	}
	var request []byte
	s.observe = func(from, to int, b []byte) {
		if d, err := wire.ParseRoom(b); err == nil && d.Type == wire.RoomLeave && request == nil {
			request = b
		}
	}
	s.blocked = func(from, to int) bool { return from == leaver } // the founder does not hear it yet
	if err := s.nodes[leaver].Leave(s.room); err != nil {
		t.Fatal(err)
	}
	if _, err := s.nodes[leaver].Send(s.room, []byte("still here?")); !errors.Is(err, ErrNotMember) {
		t.Fatalf("sending after leaving: %v, want ErrNotMember", err)
	}
	s.start(leaver) // a restart: it still asks
	if !s.nodes[leaver].Leaving(s.room) {
		t.Fatal("after a restart the member that left is in the room again")
	}
	s.blocked = nil
	s.runUntil(300, "everyone learns of the removal", func() bool { return s.joined(all, 5) })
	if got := s.nodes[0].Members(s.room); slices.Contains(got, s.ids[leaver]) || len(got) != 3 {
		t.Fatalf("members after the leave: %d, the leaver among them", len(got))
	}

	s.observe = func(from, to int, b []byte) {
		msgs, ks := messagesIn(t, b)
		for _, e := range slices.Concat(msgs, ks) {
			if e >= 5 && e < 6 && to == leaver {
				d, _ := wire.ParseRoom(b)
				t.Fatalf("member %d sent the member that left a datagram (type %d) of epoch %d", from, d.Type, e)
			}
		}
	}
	for range 10 {
		s.send(s.rng.IntN(3), "while out")
		s.step()
	}
	s.runUntil(300, "the three have 20", func() bool { return s.agreed(span(0, 3), 20) })

	if err := s.nodes[0].Add(s.room, s.ids[leaver]); err != nil {
		t.Fatalf("adding back the member that left: %v", err)
	}
	s.acceptAll([]int{leaver})
	s.runUntil(300, "everyone knows it is back", func() bool { return s.joined(all, 6) })
	if s.nodes[leaver].Leaving(s.room) {
		t.Fatal("the member added back still counts as having left")
	}
	if err := s.nodes[0].Receive(s.ids[leaver], request); err == nil {
		t.Error("the old request to leave, replayed, was taken")
	}
	if v, _ := s.nodes[0].Version(s.room); v != 6 {
		t.Fatalf("the replayed request changed the log to version %d", v)
	}
	for range 10 {
		s.send(s.rng.IntN(4), "back")
		s.step()
	}
	s.runUntil(300, "the three have 30", func() bool { return s.agreed(span(0, 3), 30) })
	s.runUntil(300, "the one back has the 10 before and the 10 after", func() bool {
		return len(s.nodes[leaver].Messages(s.room)) == 20
	})
	var want []MessageID
	for _, m := range s.nodes[0].Messages(s.room) {
		if string(m.Text) != "while out" {
			want = append(want, m.ID)
		}
	}
	if got := ids(s.nodes[leaver].Messages(s.room)); !slices.Equal(got, want) {
		t.Errorf("the member back holds %v,\nwant %v", got, want)
	}
	s.runUntil(10*statusRounds, "every member counted as having every message", func() bool { return s.deliveredLive() })
	s.checkOnce()
}

// deliveredLive reports whether each sender counts every member its
// messages were for as having them.
func (s *sim) deliveredLive() bool {
	for _, m := range s.nodes[0].Messages(s.room) {
		if k, n := s.nodes[s.index(m.ID.Sender)].Delivery(s.room, m.ID); k != n {
			return false
		}
	}
	return true
}
