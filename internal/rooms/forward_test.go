package rooms

import (
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// Members 1 and 2 cannot reach each other; member 0 reaches both. What
// each says reaches the other, forwarded through member 0, and every
// member ends with the same messages, each counted as stored by both others.
func TestForwardingAroundAMissingLink(t *testing.T) {
	s := newSim(t, 3, 6)
	s.loss = 0.1
	const a, c = 1, 2
	s.blocked = func(from, to int) bool { return from == a && to == c || from == c && to == a }
	s.nodes[a].SetReachable(s.ids[c], false)
	s.nodes[c].SetReachable(s.ids[a], false)
	all := span(0, 3)
	s.found(wire.RoomHistoryAll, 0, 3)
	s.runUntil(300, "everyone joins", func() bool { return s.joined(all, 3) })
	for i := range 60 {
		s.send([]int{a, c, 0}[i%3], "hello")
		s.step()
	}
	s.runUntil(300, "everyone has all 60", func() bool { return s.agreed(all, 60) })
	s.runUntil(10*statusRounds, "every member counted as having every message", func() bool { return s.delivered(all) })
	if s.nodes[0].Stats().Forwarded == 0 {
		t.Error("member 0 forwarded nothing")
	}
	s.checkOnce()
}

// A forwarder cannot alter what it forwards: a flipped bit does not
// decrypt, and a message re-sealed with altered text under the sender's
// key (which the forwarder, a member, holds) fails the sender's signature.
// Neither is stored; the real message still arrives.
func TestForwarderCannotAlter(t *testing.T) {
	s := newSim(t, 3, 7)
	const a, b, c = 1, 0, 2
	s.blocked = func(from, to int) bool { return from == a && to == c || from == c && to == a }
	s.nodes[a].SetReachable(s.ids[c], false)
	s.nodes[c].SetReachable(s.ids[a], false)
	s.found(wire.RoomHistoryAll, 0, 3)
	s.runUntil(300, "everyone joins", func() bool { return s.joined(span(0, 3), 3) })
	s.runUntil(3*statusRounds, "b's status says it reaches c", func() bool {
		bm := s.nodes[a].rooms[s.room].reach[b]
		return len(bm) > 0 && bm[0]&(1<<c) != 0
	})
	rb := s.nodes[b].rooms[s.room]
	for _, alter := range []struct {
		name string
		fn   func(d *wire.RoomDatagram) []byte
	}{
		{"a flipped bit", func(d *wire.RoomDatagram) []byte {
			d.Body[len(d.Body)/2] ^= 1
			out, _ := wire.AppendRoom(nil, d)
			return out
		}},
		{"re-sealed with other text", func(d *wire.RoomDatagram) []byte {
			key := rb.keys[keyRef{a, d.Epoch}] // b forwards only what it could open itself
			m, err := open(key.Key, rb.members[a].sign, d)
			if err != nil {
				t.Fatal(err)
			}
			m.Text = []byte("something a never said")
			out, err := seal(key.Key, &m)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}},
	} {
		{
			t.Log(alter.name)
			forged := s.nodes[c].Stats().Drops[DropForged]
			s.tamper = func(from, to int, p []byte) []byte {
				d, err := wire.ParseRoom(p)
				if from != b || to != c || err != nil || d.Type != wire.RoomForwardedFrom {
					return p
				}
				inner, err := wire.ParseRoom(d.Body)
				if err != nil || inner.Type != wire.RoomMessage {
					return p
				}
				inner.Body = append([]byte(nil), inner.Body...)
				d.Body = alter.fn(&inner)
				out, _ := wire.AppendRoom(nil, &d)
				return out
			}
			id := s.send(a, "the real text")
			s.runUntil(20, "c rejects the altered message", func() bool { return s.nodes[c].Stats().Drops[DropForged] > forged })
			for _, m := range s.nodes[c].Messages(s.room) {
				if m.ID == id {
					t.Fatalf("c stored the altered message: %q", m.Text)
				}
			}
			s.tamper = nil
			s.runUntil(3*statusRounds, "the real message arrives", func() bool { return s.agreed(span(0, 3), len(s.nodes[a].Messages(s.room))) })
			for _, m := range s.nodes[c].Messages(s.room) {
				if m.ID == id && string(m.Text) != "the real text" {
					t.Fatalf("c holds %q", m.Text)
				}
			}
		}
	}
}

// A member whose session announces a signing key other than the one the
// founder wrote into the log for it is reported as a fork.
func TestBindingThatContradictsTheLog(t *testing.T) {
	s := newSim(t, 3, 10)
	s.found(wire.RoomHistoryAll, 0, 3)
	s.runUntil(100, "everyone joins", func() bool { return s.joined(span(0, 3), 3) })
	s.nodes[2].Events()
	other := newSim(t, 1, 11) // a different signing key
	b := other.nodes[0].Binding()
	// The binding is signed over the Noise key it is for: re-sign it for member 1.
	d, _ := wire.ParseRoom(b)
	copy(d.Sig[:], bindingSig(other.signs[0], s.ids[1]))
	b, _ = wire.AppendRoom(nil, &d)
	if err := s.nodes[2].Receive(s.ids[1], b); err != nil {
		t.Fatal(err)
	}
	for _, e := range s.nodes[2].Events() {
		if e.Kind == EventFork && e.Member == s.ids[1] {
			return
		}
	}
	t.Error("no fork reported")
}
