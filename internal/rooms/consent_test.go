package rooms

import (
	"errors"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// newConsentSim is newSim whose members' invitations wait for Accept.
func newConsentSim(t *testing.T, n int, seed uint64) *sim {
	s := newSim(t, n, seed)
	s.askToJoin = true
	for i := range n {
		s.start(i)
	}
	s.bind()
	return s
}

// With AskToJoin an invitation joins nothing until the invitee accepts:
// it is an EventInvited naming the founder and the members, the founder's
// messages do not reach the invitee meanwhile, and after Accept it joins
// and gets them (history), in the room's one order.
func TestInvitationWaitsForAccept(t *testing.T) {
	s := newConsentSim(t, 3, 11)
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

// An invitation outlives the invitee's restart, with its label: accepted
// after it, with the founder away (so not sent again), it joins; a kept
// invitation to a room already joined is dropped at the next start.
func TestInvitationOutlivesRestart(t *testing.T) {
	s := newSim(t, 2, 12)
	s.askToJoin = true
	s.start(1)
	s.found(wire.RoomHistoryAll, 0, 1)
	if err := s.nodes[0].Add(s.room, s.ids[1]); err != nil {
		t.Fatal(err)
	}
	for _, o := range s.nodes[0].Outbox() {
		s.nodes[1].ReceiveLabeled(s.ids[0], o.Datagram, "ops") //nolint:errcheck // all but the invitation are for a room it is not in
	}
	s.start(1) // a restart, the founder away
	if got := s.nodes[1].Invitations(); len(got) != 1 || got[s.room] != "ops" {
		t.Fatalf("after a restart the invitations are %v, want the one to ops", got)
	}
	if err := s.nodes[1].Accept(s.room); err != nil {
		t.Fatalf("accepting after a restart: %v", err)
	}
	s.start(1)
	if got := s.nodes[1].Invitations(); len(got) != 0 {
		t.Fatalf("after joining and a restart the invitations are %v, want none", got)
	}
	if invs, _ := s.stores[1].Invitations(); len(invs) != 0 {
		t.Fatalf("the storage keeps %d invitations after the join", len(invs))
	}
	s.runUntil(100, "both are members", func() bool { return s.joined(span(0, 2), 2) })
	if got := s.nodes[0].Members(s.room); len(got) != 2 {
		t.Fatalf("the founder sees %d members", len(got))
	}
}

// A pending invitation follows its founder's news: a member added before
// the invitee says yes shows in it, and a removal of the invitee before it
// says yes takes it away, from memory and storage.
func TestPendingInvitationFollowsTheLog(t *testing.T) {
	s := newConsentSim(t, 3, 13)
	s.found(wire.RoomHistoryAll, 0, 2)
	s.runUntil(100, "the invitation arrives", func() bool { _, _, ok := s.nodes[1].Invitation(s.room); return ok })
	if err := s.nodes[0].Add(s.room, s.ids[2]); err != nil {
		t.Fatal(err)
	}
	s.runUntil(100, "the invitation shows the member added since", func() bool {
		_, members, _ := s.nodes[1].Invitation(s.room)
		return len(members) == 3
	})
	if err := s.nodes[0].Remove(s.room, s.ids[1]); err != nil {
		t.Fatal(err)
	}
	s.runUntil(100, "the invitation goes", func() bool { return len(s.nodes[1].Invitations()) == 0 })
	if invs, _ := s.stores[1].Invitations(); len(invs) != 0 {
		t.Fatalf("the storage still keeps %d invitations", len(invs))
	}
	if err := s.nodes[1].Accept(s.room); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("accepting an invitation taken back: %v, want ErrNoRoom", err)
	}
}
