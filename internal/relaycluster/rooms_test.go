package relaycluster

import (
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relay/relaytest"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
)

// TestRoomAcrossThreeRelaysReachesEveryMemberOnce spreads a room's members
// over three relays, each on a node of a three-node NATS cluster: a post
// at any relay reaches every other member once, and each relay takes each
// post of another relay once from NATS, however many members it has.
func TestRoomAcrossThreeRelaysReachesEveryMemberOnce(t *testing.T) {
	ns := natstest.StartCluster(t, 3)
	relays := []*clusterRelay{
		startClusterRelay(t, connect(t, ns, 0), relay.Config{}),
		startClusterRelay(t, connect(t, ns, 1), relay.Config{}),
		startClusterRelay(t, connect(t, ns, 2), relay.Config{}),
	}
	perRelay := 100
	if testing.Short() {
		perRelay = 15
	}
	room := relay.RoomID{7}
	tally := relaytest.NewTally()
	var members []*relaytest.Member
	for i := range 3 * perRelay {
		r := relays[i%3]
		members = append(members, relaytest.Join(t, relaytest.Relay{Addr: r.Addr(), Key: r.PublicKey()}, room, i, tally))
	}
	want := make(map[*relay.Server]int)
	for _, r := range relays {
		want[r.Server] = perRelay
	}
	relaytest.SubscribeAll(t, members, room, want)

	// NATS tells the other nodes of a relay's subscription to the room's
	// subject on its own time: until a round of posts, one from each
	// relay, has reached every member, posts may miss a relay. The paths
	// keep their order, so once a round has arrived whole, nothing of the
	// earlier rounds is still on its way.
	n := len(members)
	probe := uint64(1 << 40)
	for round := 0; ; round++ {
		if round == 20 {
			t.Fatal("20 rounds of posts, and none reached every member")
		}
		want := tally.Distinct() + 3*(n-1)
		for s := range 3 {
			if err := members[s].PostRoom(room, relaytest.Datagram(probe+uint64(s), 100)); err != nil {
				t.Fatal(err)
			}
		}
		// Whole, or as much as will come.
		if tally.WaitDistinct(want, time.Second) == nil && roundArrived(tally, n, probe) {
			break
		}
		probe += 3
	}
	before := make([]relay.Stats, 3)
	for i, r := range relays {
		before[i] = r.Stats()
	}
	base, dupsBefore := tally.Distinct(), tally.Duplicates()

	const posts = 9
	for p := range posts {
		if err := members[p%len(members)].PostRoom(room, relaytest.Datagram(uint64(p), 600)); err != nil {
			t.Fatal(err)
		}
		if err := tally.WaitDistinct(base+(p+1)*(n-1), 20*time.Second); err != nil {
			t.Fatalf("post %d: %v", p, err)
		}
	}
	for p := range posts {
		for m := range members {
			want := 1
			if m == p%len(members) {
				want = 0
			}
			if got := tally.Times(m, uint64(p)); got != want {
				t.Fatalf("member %d got post %d %d times, want %d", m, p, got, want)
			}
		}
	}
	if d := tally.Duplicates() - dupsBefore; d != 0 {
		t.Errorf("%d duplicate deliveries", d)
	}
	// Posts p went out at relay p%3: three at each; each relay took the
	// other six from NATS, once each.
	for i, r := range relays {
		eventually(t, "the relays' counters", func() bool {
			st := r.Stats()
			return st.RoomDelivered-before[i].RoomDelivered == uint64(posts*perRelay-posts/3)
		})
		st := r.Stats()
		if got := st.RoomPeerReceived - before[i].RoomPeerReceived; got != posts-posts/3 {
			t.Errorf("relay %d took %d posts from NATS, want %d", i, got, posts-posts/3)
		}
		if got := st.RoomPeerSent - before[i].RoomPeerSent; got != posts/3 {
			t.Errorf("relay %d published %d posts, want %d", i, got, posts/3)
		}
	}
}

// roundArrived says whether each of the posts first, first+1 and first+2,
// by members 0, 1 and 2, has reached every other of the n members.
func roundArrived(tally *relaytest.Tally, n int, first uint64) bool {
	for s := range 3 {
		for m := range n {
			if m != s && tally.Times(m, first+uint64(s)) == 0 {
				return false
			}
		}
	}
	return true
}
