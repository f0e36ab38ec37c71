package roomchat_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

type roomKey = [wire.RoomIDLen]byte

// fanoutHub is a relay's room fan-out in memory: a post goes to every
// other subscriber of its room, each in order, from a goroutine of its
// own (as a relay's deliver arrives: never inside the poster's call).
type fanoutHub struct {
	mu    sync.Mutex
	subs  map[roomKey]map[*member]bool
	queue map[*member]chan post
	posts map[roomKey][][]byte
}

type post struct {
	room     roomKey
	datagram []byte
}

func newFanoutHub(t *testing.T) *fanoutHub {
	h := &fanoutHub{subs: map[roomKey]map[*member]bool{}, queue: map[*member]chan post{}, posts: map[roomKey][][]byte{}}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, q := range h.queue {
			close(q)
		}
	})
	return h
}

// join gives m the hub as its fan-out.
func (h *fanoutHub) join(m *member) {
	q := make(chan post, 1024)
	h.mu.Lock()
	h.queue[m] = q
	h.mu.Unlock()
	go func() {
		for p := range q {
			m.rooms.FanoutDeliver(p.room, p.datagram)
		}
	}()
	m.rooms.SetFanout(memberFanout{h, m})
}

// sent returns the datagrams posted to room.
func (h *fanoutHub) sent(room roomKey) [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.posts[room])
}

type memberFanout struct {
	h *fanoutHub
	m *member
}

func (f memberFanout) SubscribeRoom(room roomKey, on bool) error {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	if f.h.subs[room] == nil {
		f.h.subs[room] = map[*member]bool{}
	}
	if on {
		f.h.subs[room][f.m] = true
	} else {
		delete(f.h.subs[room], f.m)
	}
	return nil
}

func (f memberFanout) PostRoom(room roomKey, datagram []byte) error {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	if !f.h.subs[room][f.m] {
		return fmt.Errorf("%s posts to a room it is not subscribed to", f.m.name)
	}
	f.h.posts[room] = append(f.h.posts[room], slices.Clone(datagram))
	for s := range f.h.subs[room] {
		if s != f.m {
			f.h.queue[s] <- post{room, slices.Clone(datagram)}
		}
	}
	return nil
}

// A room over the fan-out size (lowered to 2 here) with a fan-out at hand
// sends each message once, as a post, which every other member gets once
// and in the room's one order; /info's room says "fan-out". A post that a
// non-member forged, or that a member's message was tampered into, is
// dropped: the room's own keys decide, not the relay.
func TestRoomFanout(t *testing.T) {
	mn := udptest.NewMemNetwork()
	hub := newFanoutHub(t)
	var all []*member
	for i, name := range []string{"alice", "bob", "carol"} {
		m := startMember(t, mn, name, fmt.Sprintf("10.0.0.%d:7000", i+1), chat.FileConfig{}, 2)
		hub.join(m)
		all = append(all, m)
	}
	alice, bob, carol := all[0], all[1], all[2]
	formRoom(t, [][2]*member{{alice, bob}, {alice, carol}, {bob, carol}}, all...)
	eventually(t, "every member's room is in fan-out mode", func() bool {
		for _, m := range all {
			if l := m.rooms.List(); len(l) != 1 || !l[0].Fanout {
				return false
			}
		}
		return true
	})
	id := roomKey(alice.rooms.List()[0].ID)

	var said []string
	for i := range 3 {
		for _, m := range all {
			text := fmt.Sprintf("%s %d", m.name, i)
			if _, err := m.rooms.Say("ops", text); err != nil {
				t.Fatal(err)
			}
			said = append(said, text)
		}
	}
	if got := len(hub.sent(id)); got != len(said) {
		t.Fatalf("%d posts for %d messages: want one each", got, len(said))
	}
	eventually(t, "everyone has all 9 messages", func() bool {
		for _, m := range all {
			if len(texts(t, m)) != len(said) {
				return false
			}
		}
		return true
	})
	want := texts(t, alice)
	for _, m := range all[1:] {
		if got := texts(t, m); !slices.Equal(got, want) {
			t.Fatalf("%s has %q, alice %q: not the same order", m.name, got, want)
		}
	}
	for _, m := range all {
		for len(m.shown) < 6 {
			e := await(t, m, func(chat.RoomMessage) bool { return true })
			if m.shown[e.Text]++; m.shown[e.Text] > 1 || e.From == m.name {
				t.Fatalf("%s was shown %q from %s again, or its own", m.name, e.Text, e.From)
			}
		}
	}

	// Forgeries, from alice's first post: as dave's, who is no member; and
	// with its seq changed, which its seal and signature cover. And an ack
	// naming alice, which only a pairwise session can vouch for.
	d, err := wire.ParseRoom(hub.sent(id)[0])
	if err != nil {
		t.Fatal(err)
	}
	dave := d
	dave.Peer = chattest.PersonKey("10.0.0.4:7000")
	tampered := d
	tampered.Seq += 100
	ack := wire.RoomDatagram{Type: wire.RoomAck, Room: d.Room, Peer: d.Peer, Seq: 1000}
	before := bob.rooms.Stats()
	for _, f := range []wire.RoomDatagram{dave, tampered, ack} {
		b, err := wire.AppendRoom(nil, &f)
		if err != nil {
			t.Fatal(err)
		}
		bob.rooms.FanoutDeliver(id, b)
	}
	after := bob.rooms.Stats()
	if after.Drops[rooms.DropNotMember] != before.Drops[rooms.DropNotMember]+1 ||
		after.Drops[rooms.DropForged] != before.Drops[rooms.DropForged]+2 {
		t.Fatalf("bob's drops %v after the forged posts, %v before: want one more not-member, two more forged", after.Drops, before.Drops)
	}
	if got := texts(t, bob); len(got) != len(said) {
		t.Fatalf("bob has %q after the forged posts", got)
	}
}
