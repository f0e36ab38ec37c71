package rooms

import (
	"errors"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// The founder sets the topic: every member gets it (over loss), keeps it
// across a restart, and a newcomer invited later has it too; messages go
// on flowing across the new version. No one else can set it, and it is
// bounded.
func TestTopic(t *testing.T) {
	s := newSim(t, 4, 31)
	s.loss = 0.2
	s.found(wire.RoomHistoryAll, 0, 3)
	s.runUntil(300, "the three join", func() bool { return s.joined(span(0, 3), 3) })
	if err := s.nodes[1].SetTopic(s.room, "mine now"); !errors.Is(err, ErrNotFounder) {
		t.Fatalf("a member setting the topic: %v, want ErrNotFounder", err)
	}
	if err := s.nodes[0].SetTopic(s.room, strings.Repeat("x", wire.MaxRoomTopic+1)); err == nil {
		t.Fatal("a topic over the bound was set")
	}
	if err := s.nodes[0].SetTopic(s.room, "deploy friday"); err != nil {
		t.Fatal(err)
	}
	if ev := s.nodes[0].Events(); len(ev) != 1 || ev[0] != (Event{Kind: EventTopic, Room: s.room}) {
		t.Fatalf("setting the topic made the events %v, want one EventTopic (no membership news)", ev)
	}
	s.runUntil(300, "every member has the topic", func() bool {
		for _, i := range span(0, 3) {
			if s.nodes[i].Topic(s.room) != "deploy friday" {
				return false
			}
		}
		return true
	})
	s.start(2) // a restart
	if got := s.nodes[2].Topic(s.room); got != "deploy friday" {
		t.Fatalf("after a restart the topic is %q", got)
	}
	if err := s.nodes[0].Add(s.room, s.ids[3]); err != nil {
		t.Fatal(err)
	}
	s.runUntil(300, "the newcomer joins", func() bool { return s.joined(span(0, 4), 5) })
	if got := s.nodes[3].Topic(s.room); got != "deploy friday" {
		t.Fatalf("the newcomer has the topic %q", got)
	}
	for range 8 {
		s.send(s.rng.IntN(4), "after the topic")
		s.step()
	}
	s.runUntil(300, "all have the 8", func() bool { return s.agreed(span(0, 4), 8) })
}
