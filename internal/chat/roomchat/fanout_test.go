package roomchat_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relay/relaytest"
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
	all := fanoutMembers(t, mn, hub.join)
	id := roomKey(all[0].rooms.List()[0].ID)
	said := sayInFanout(t, all)
	if got := len(hub.sent(id)); got != len(said) {
		t.Fatalf("%d posts for %d messages: want one each", got, len(said))
	}
	first := hub.sent(id)[0]

	// Forgeries, from alice's first post: as dave's, who is no member; and
	// with its seq changed, which its seal and signature cover. And an ack
	// naming alice, which only a pairwise session can vouch for.
	bob := all[1]
	d, err := wire.ParseRoom(first)
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

// The same room through a real relay (relay.Client as the fan-out, as the
// chat's relay path offers it): the relay takes one post a message and
// delivers it to the two other members.
func TestRoomFanoutThroughRelay(t *testing.T) {
	srv := relaytest.Serve(t, relay.Config{})
	at := relaytest.Relay{Addr: srv.Addr(), Key: srv.PublicKey()}
	mn := udptest.NewMemNetwork()
	i := 0
	all := fanoutMembers(t, mn, func(m *member) {
		c := relaytest.Connect(t, at, i, m.rooms.FanoutDeliver)
		i++
		m.rooms.SetFanout(c)
	})
	id := roomKey(all[0].rooms.List()[0].ID)
	eventually(t, "the relay has the three subscriptions", func() bool { return srv.RoomSubscribers(id) == 3 })
	said := sayInFanout(t, all)
	// The relay counts a deliver once it is written: after its member may
	// have it.
	eventually(t, "the relay took one post a message and delivered each to 2", func() bool {
		st := srv.Stats()
		return st.RoomPosts == uint64(len(said)) && st.RoomDelivered == 2*uint64(len(said))
	})
}

// fanoutMembers starts alice, bob and carol, with the fan-out size lowered
// to 2, each given a fan-out by join before the room is formed (so that
// they subscribe as it grows over the size); it returns once every
// member's room is in fan-out mode.
func fanoutMembers(t *testing.T, mn *udptest.MemNetwork, join func(*member)) []*member {
	t.Helper()
	var all []*member
	for i, name := range []string{"alice", "bob", "carol"} {
		m := startMember(t, mn, name, fmt.Sprintf("10.0.0.%d:7000", i+1), memberOptions{fanoutAbove: 2})
		join(m)
		all = append(all, m)
	}
	formRoom(t, [][2]*member{{all[0], all[1]}, {all[0], all[2]}, {all[1], all[2]}}, all...)
	eventually(t, "every member's room is in fan-out mode", func() bool {
		for _, m := range all {
			if l := m.rooms.List(); len(l) != 1 || !l[0].Fanout {
				return false
			}
		}
		return true
	})
	return all
}

// sayInFanout has each member say three lines and checks that every
// member has all nine, in one order, each shown once; it returns them.
func sayInFanout(t *testing.T, all []*member) []string {
	t.Helper()
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
	eventually(t, "everyone has all 9 messages", func() bool {
		for _, m := range all {
			if len(texts(t, m)) != len(said) {
				return false
			}
		}
		return true
	})
	want := texts(t, all[0])
	for _, m := range all[1:] {
		if got := texts(t, m); !slices.Equal(got, want) {
			t.Fatalf("%s has %q, %s %q: not the same order", m.name, got, all[0].name, want)
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
	return said
}
