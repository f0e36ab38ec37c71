package rooms

import (
	"errors"
	"fmt"
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

// The log goes past 256 entries (the old bound), an invitation carries it
// whole, and a member that was away catches up on it in one log datagram;
// it ends where the whole log no longer fits one datagram, with
// ErrLogFull, which changes nothing.
func TestLongLog(t *testing.T) {
	s := newSim(t, 3, 41)
	s.found(wire.RoomHistoryAll, 0, 2)
	s.runUntil(100, "the two join", func() bool { return s.joined(span(0, 2), 2) })
	s.blocked = func(from, to int) bool { return from == 1 || to == 1 } // away
	for i := range 400 {
		if err := s.nodes[0].SetTopic(s.room, fmt.Sprint("topic ", i)); err != nil {
			t.Fatalf("topic %d: %v", i, err)
		}
	}
	if err := s.nodes[0].Add(s.room, s.ids[2]); err != nil {
		t.Fatal(err)
	}
	s.blocked = nil
	s.runUntil(100, "the newcomer and the member away have all 403 entries", func() bool { return s.joined(span(0, 3), 403) })
	var err error
	for err == nil {
		err = s.nodes[0].SetTopic(s.room, "a topic of some length, to fill the log sooner")
	}
	v, _ := s.nodes[0].Version(s.room)
	if !errors.Is(err, ErrLogFull) || v < 1000 {
		t.Fatalf("the log stopped at %d entries with %v; want ErrLogFull, past 1,000", v, err)
	}
	if err := s.nodes[0].Remove(s.room, s.ids[1]); !errors.Is(err, ErrLogFull) {
		t.Fatalf("a removal into a full log: %v, want ErrLogFull", err)
	}
	if after, _ := s.nodes[0].Version(s.room); after != v {
		t.Fatalf("a refused entry moved the log from %d to %d", v, after)
	}
	s.runUntil(100, "every member has the full log", func() bool { return s.joined(span(0, 3), v) })
}
