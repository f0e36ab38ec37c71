package relay_test

import (
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relay/relaytest"
)

// roomMembers is how many members the fan-out tests simulate.
func roomMembers() int {
	if testing.Short() {
		return 40
	}
	return 300
}

func TestRoomFanOutDeliversEveryPostOnceToEveryOtherSubscriber(t *testing.T) {
	s := relaytest.Serve(t, relay.Config{})
	r := relaytest.Relay{Addr: s.Addr(), Key: s.PublicKey()}
	room, other := relay.RoomID{1}, relay.RoomID{2}
	tally, otherTally := relaytest.NewTally(), relaytest.NewTally()
	n := roomMembers()
	members := make([]*relaytest.Member, n)
	for i := range members {
		members[i] = relaytest.Join(t, r, room, i, tally)
	}
	outsider := relaytest.Join(t, r, other, n, otherTally) // a subscriber of another room
	relaytest.SubscribeAll(t, members, room, map[*relay.Server]int{s: n})
	relaytest.SubscribeAll(t, []*relaytest.Member{outsider}, other, map[*relay.Server]int{s: 1})

	// Three members post in turn; each post reaches the other n-1 once.
	const posts = 6
	for p := range posts {
		sender := members[p%3]
		if err := sender.PostRoom(room, relaytest.Datagram(uint64(p), 200)); err != nil {
			t.Fatal(err)
		}
		if err := tally.WaitDistinct((p+1)*(n-1), 10*time.Second); err != nil {
			t.Fatalf("post %d: %v", p, err)
		}
	}
	for p := range posts {
		if got := tally.Times(p%3, uint64(p)); got != 0 {
			t.Errorf("member %d got its own post %d back %d times", p%3, p, got)
		}
	}
	if d := tally.Duplicates(); d != 0 {
		t.Errorf("%d duplicate deliveries", d)
	}
	if otherTally.Distinct() != 0 {
		t.Errorf("a subscriber of another room got %d of this room's posts", otherTally.Distinct())
	}

	// An unsubscribed member gets no more, and may not post.
	if err := members[n-1].SubscribeRoom(room, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the unsubscribe taken", func() bool { return s.RoomSubscribers(room) == n-1 })
	if err := members[n-1].PostRoom(room, relaytest.Datagram(100, 200)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the post of a non-subscriber dropped", func() bool {
		return s.Stats().Drops[relay.DropNotSubscribed] == 1
	})
	if err := members[0].PostRoom(room, relaytest.Datagram(101, 200)); err != nil {
		t.Fatal(err)
	}
	if err := tally.WaitDistinct(posts*(n-1)+n-2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if tally.Times(n-1, 101) != 0 || tally.Times(1, 100) != 0 {
		t.Error("a post reached an unsubscribed member, or a non-subscriber's post went out")
	}
	st := s.Stats()
	if st.RoomPosts != posts+1 || st.Rooms != 2 {
		t.Errorf("stats: %d posts in %d rooms; want %d in 2", st.RoomPosts, st.Rooms, posts+1)
	}
	eventually(t, "the delivers counted", func() bool {
		return s.Stats().RoomDelivered == uint64(posts*(n-1)+n-2)
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
