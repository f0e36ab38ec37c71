package rooms

import (
	"errors"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// With AskToJoin an invitation joins nothing until the invitee accepts:
// it is an EventInvited naming the founder and the members, the founder's
// messages do not reach the invitee meanwhile, and after Accept it joins
// and gets them (history), in the room's one order.
func TestInvitationWaitsForAccept(t *testing.T) {
	s := newSim(t, 3, 11)
	s.askToJoin = true
	for i := range 3 {
		s.start(i)
	}
	s.bind()
	s.found(wire.RoomHistoryAll, 0, 3)
	s.send(0, "before anyone joined")
	for range 30 {
		s.step()
	}
	if len(s.seen[1]) == 0 || s.seen[1][0] != (Event{Kind: EventInvited, Room: s.room}) {
		t.Fatalf("member 1 saw %v, want an EventInvited first", s.seen[1])
	}
	if slices.ContainsFunc(s.seen[1], func(e Event) bool { return e.Kind == EventJoined }) {
		t.Fatal("member 1 joined without accepting")
	}
	founder, members, ok := s.nodes[1].Invitation(s.room)
	if !ok || founder != s.ids[0] || len(members) != 3 {
		t.Fatalf("Invitation = %v, %d members, %v; want the founder and 3 members", founder.Fingerprint(), len(members), ok)
	}
	if got := s.nodes[1].Messages(s.room); len(got) != 0 {
		t.Fatalf("member 1 has %d messages before accepting", len(got))
	}
	if err := s.nodes[2].Accept(RoomID{1}); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("Accept of no invitation: %v, want ErrNoRoom", err)
	}
	for _, i := range []int{1, 2} {
		if err := s.nodes[i].Accept(s.room); err != nil {
			t.Fatal(err)
		}
	}
	s.runUntil(300, "both join and have the message", func() bool {
		return s.joined(span(0, 3), 3) && len(s.nodes[1].Messages(s.room)) == 1 && len(s.nodes[2].Messages(s.room)) == 1
	})
}
