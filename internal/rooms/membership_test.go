package rooms

import (
	"errors"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// messagesIn returns the room messages a datagram carries, looking inside
// forwards: (sender, epoch) of sealed ones and of history items, and the
// epochs of sender keys.
func messagesIn(t testing.TB, b []byte) (msgEpochs, keyEpochs []uint64) {
	d, err := wire.ParseRoom(b)
	if err != nil {
		t.Fatalf("the core sent a datagram that does not parse: %v", err)
	}
	switch d.Type {
	case wire.RoomMessage:
		msgEpochs = append(msgEpochs, d.Epoch)
	case wire.RoomKey:
		keyEpochs = append(keyEpochs, d.Epoch)
	case wire.RoomHistory:
		for _, it := range d.History {
			msgEpochs = append(msgEpochs, it.Header.Epoch)
		}
	case wire.RoomForwardTo, wire.RoomForwardedFrom:
		return messagesIn(t, d.Body)
	}
	return msgEpochs, keyEpochs
}

// A removed member receives no datagram with a message sent after its
// removal (checked on the simulated wire, forwards included), cannot
// decrypt one replayed to it, and can no longer send.
func TestRemovedMemberGetsNothingNew(t *testing.T) {
	s := newSim(t, 6, 4)
	s.loss, s.dup = 0.2, 0.05
	s.found(wire.RoomHistoryAll, 0, 6)
	s.runUntil(300, "everyone joins", func() bool { return s.joined(span(0, 6), 6) })
	for range 30 {
		s.send(s.rng.IntN(6), "before")
		s.step()
	}
	const gone = 5
	if err := s.nodes[0].Remove(s.room, s.ids[gone]); err != nil {
		t.Fatal(err)
	}
	removal, _ := s.nodes[0].Version(s.room)
	stay := span(0, 5)
	s.runUntil(300, "the members learn of the removal", func() bool { return s.joined(stay, removal) })

	var replay []byte
	s.observe = func(from, to int, b []byte) {
		msgs, ks := messagesIn(t, b)
		for _, e := range slices.Concat(msgs, ks) {
			if e >= removal && to == gone {
				t.Fatalf("member %d sent the removed member a datagram of epoch %d (removal at %d)", from, e, removal)
			}
			if e >= removal && replay == nil && len(msgs) > 0 {
				replay = b
			}
		}
	}
	for range 50 {
		s.send(s.rng.IntN(5), "after")
		s.step()
	}
	s.runUntil(500, "the members have all 80", func() bool { return s.agreed(stay, 80) })
	for range 3 * statusRounds {
		s.step() // the removed member keeps ticking and asking
	}
	if replay == nil {
		t.Fatal("no message after the removal was seen on the wire")
	}
	before := len(s.nodes[gone].Messages(s.room))
	s.nodes[gone].Receive(s.ids[0], replay) //nolint:errcheck // it must be dropped
	if got := len(s.nodes[gone].Messages(s.room)); got != before || before > 30 {
		t.Errorf("the removed member holds %d messages, then %d after a replay; it had only 30 before removal", before, got)
	}
	if _, err := s.nodes[gone].Send(s.room, []byte("still here?")); !errors.Is(err, ErrNotMember) {
		t.Errorf("the removed member sending: %v, want ErrNotMember", err)
	}
	s.checkOnce()
}

// A newcomer gets the history the room's policy allows, and never anything
// said before its invitation when the policy is none.
func TestNewcomerHistoryPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  wire.RoomHistoryPolicy
		keepN   uint64
		history int // of the 40 said before the invitation
	}{
		{"none", wire.RoomHistoryNone, 0, 0},
		{"last 7", wire.RoomHistoryLast, 7, 7},
		{"all", wire.RoomHistoryAll, 0, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, 4, 5)
			s.loss, s.dup = 0.2, 0.05
			s.found(tc.policy, tc.keepN, 3)
			s.runUntil(300, "the first three join", func() bool { return s.joined(span(0, 3), 3) })
			for range 40 {
				s.send(s.rng.IntN(3), "before")
				s.step()
			}
			s.runUntil(300, "the three agree", func() bool { return s.agreed(span(0, 3), 40) })
			before := s.nodes[0].Messages(s.room)
			const newcomer = 3
			s.observe = func(from, to int, b []byte) {
				if msgs, _ := messagesIn(t, b); to == newcomer && tc.policy == wire.RoomHistoryNone {
					for _, e := range msgs {
						if e < 4 {
							t.Fatalf("under policy none the newcomer was sent a message of epoch %d (it was added at 4)", e)
						}
					}
				}
			}
			if err := s.nodes[0].Add(s.room, s.ids[newcomer]); err != nil {
				t.Fatal(err)
			}
			s.runUntil(300, "everyone knows the newcomer", func() bool { return s.joined(span(0, 4), 4) })
			for range 20 {
				s.send(s.rng.IntN(4), "after")
				s.step()
			}
			s.runUntil(300, "the old members have all 60", func() bool { return s.agreed(span(0, 3), 60) })
			s.runUntil(300, "the newcomer has its share", func() bool {
				return len(s.nodes[newcomer].Messages(s.room)) == 20+tc.history
			})
			for range 2 * statusRounds {
				s.step()
			}
			have := s.nodes[newcomer].Messages(s.room)
			if len(have) != 20+tc.history {
				t.Fatalf("the newcomer holds %d messages, want %d", len(have), 20+tc.history)
			}
			// It has exactly the last tc.history of the old messages and
			// all the new ones, in the order everyone else has them.
			old := ids(before)
			owed := old[len(old)-tc.history:]
			var want []MessageID
			for _, id := range ids(s.nodes[0].Messages(s.room)) {
				if !slices.Contains(old, id) || slices.Contains(owed, id) {
					want = append(want, id)
				}
			}
			if !slices.Equal(ids(have), want) {
				t.Errorf("the newcomer holds %v,\nwant %v", ids(have), want)
			}
			s.checkOnce()
		})
	}
}
