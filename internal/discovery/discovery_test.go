package discovery

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

func TestMain(m *testing.M) {
	if role := childRole(); role != "" {
		childMain(role) // the namespace tests' children: see netns_test.go
		return
	}
	goleak.VerifyTestMain(m)
}

// A newcomer announces at once; those who hear it answer by unicast, so a
// join costs one broadcast and one answer per member, and everyone knows
// everyone.
func TestJoinIsOneBroadcastAndUnicastAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		alice := lan.join(t, "alice", 1)
		alice.expect(t)
		if b, u := lan.counts(); b != 1 || u != 0 {
			t.Fatalf("alice alone sent %d broadcasts and %d unicasts, want 1 and 0", b, u)
		}
		bob := lan.join(t, "bob", 2)
		alice.expect(t, Nearby, bob)
		bob.expect(t, Nearby, alice)
		carol := lan.join(t, "carol", 3)
		alice.expect(t, Nearby, carol)
		bob.expect(t, Nearby, carol)
		got := carol.pending(t)
		if len(got) != 2 || got[0].Kind != Nearby || got[1].Kind != Nearby {
			t.Fatalf("carol's events: %v, want alice and bob nearby", got)
		}
		if b, u := lan.counts(); b != 3 || u != 3 {
			t.Errorf("three joins cost %d broadcasts and %d unicasts, want 3 and 3 (bob answers alice; alice and bob answer carol)", b, u)
		}
		// No time has passed: everything above was the join itself.
		for _, n := range []*node{alice, bob, carol} {
			if got := len(n.Nearby()); got != 2 {
				t.Errorf("%s has %d nearby, want 2", n.cfg.Name, got)
			}
		}
		peers := carol.Nearby()
		slices.SortFunc(peers, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
		if p := peers[0]; p.Name != "alice" || p.Key != alice.key || p.Instance != alice.Instance() || p.Endpoint != alice.endpoint() || !p.LastSeen.Equal(time.Now()) {
			t.Errorf("carol sees alice as %+v", p)
		}
	})
}

// Then each announces every interval, ±10%, and no one answers a peer it
// knows.
func TestPeriodicAnnouncements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		a, b := lan.join(t, "a", 1), lan.join(t, "b", 2)
		a.expect(t, Nearby, b)
		b.expect(t, Nearby, a)
		b0, u0 := lan.counts()
		time.Sleep(10 * testInterval) // virtual time
		b1, u1 := lan.counts()
		if n := b1 - b0; n < 2*9 || n > 2*12 {
			t.Errorf("2 nodes sent %d announcements in 10 intervals, want 9 to 12 each", n)
		}
		if u1 != u0 {
			t.Errorf("%d answers to announcements of known peers", u1-u0)
		}
		a.expect(t)
		b.expect(t)
	})
}

// A peer not heard for 3 intervals (of the longest, with jitter) is gone;
// one that keeps announcing stays.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		a, b, c := lan.join(t, "a", 1), lan.join(t, "b", 2), lan.join(t, "c", 3)
		a.pending(t)
		lan.mu.Lock()
		c.net.muted = true // c is killed: it sends nothing more, not even a leave
		lan.mu.Unlock()
		ttl := expiry(testInterval)
		time.Sleep(ttl - time.Nanosecond)
		a.expect(t)
		time.Sleep(time.Nanosecond)
		a.expect(t, Gone, c)
		b.pending(t)
		time.Sleep(10 * testInterval)
		a.expect(t)
		if got := a.Nearby(); len(got) != 1 || got[0].Key != b.key {
			t.Errorf("a's nearby set after c was gone: %+v, want b alone", got)
		}
	})
}

// A clean exit is announced: others forget the leaver at once.
func TestLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		a, b := lan.join(t, "a", 1), lan.join(t, "b", 2)
		a.expect(t, Nearby, b)
		bEndpoint, bName := b.endpoint(), b.nameNow()
		b.Close()
		got := a.pending(t)
		if len(got) != 1 || got[0].Kind != Gone || got[0].Peer.Endpoint != bEndpoint || got[0].Peer.Name != bName {
			t.Fatalf("a's events after b left: %v, want b gone", got)
		}
		if _, ok := <-b.Events(); ok {
			t.Error("b's events still open after Close")
		}
		if b.Nearby() != nil {
			t.Error("b has a nearby set after Close")
		}
	})
}

// Announcements out of turn (a new name, a new network) come at most once
// per MinForcedGap, the last name winning.
func TestForcedAnnouncementsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		a, b := lan.join(t, "a", 1), lan.join(t, "b", 2)
		a.expect(t, Nearby, b)
		b0, _ := lan.counts()
		for i := range 10 {
			time.Sleep(100 * time.Millisecond)
			if err := b.SetName("b" + strings.Repeat("!", i)); err != nil {
				t.Fatal(err)
			}
			lan.mu.Lock()
			b.net.newLink = true
			lan.mu.Unlock()
		}
		synctest.Wait()
		if n, _ := lan.counts(); n != b0 {
			t.Fatalf("%d announcements within MinForcedGap of the first", n-b0)
		}
		time.Sleep(MinForcedGap - time.Second) // 5 s after b's first announcement
		synctest.Wait()
		if n, _ := lan.counts(); n != b0+1 {
			t.Fatalf("%d announcements when MinForcedGap was up, want 1", n-b0)
		}
		a.expect(t, Changed, b)
		if b.nameNow() != "b!!!!!!!!!" {
			t.Errorf("b's name is %q", b.nameNow())
		}
		// The rescans found new links every time; one more announcement
		// for them, no sooner than MinForcedGap after the last.
		time.Sleep(MinForcedGap - time.Nanosecond)
		if n, _ := lan.counts(); n != b0+1 {
			t.Errorf("%d announcements within MinForcedGap of the last forced one", n-b0-1)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n, _ := lan.counts(); n > b0+2 {
			t.Errorf("%d announcements after two forced gaps, want at most 2", n-b0)
		}
	})
}

func TestSetNameRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newLAN().join(t, "a", 1)
		for _, name := range []string{"", strings.Repeat("n", wire.MaxNameLen+1), "\xff"} {
			if err := a.SetName(name); !errors.Is(err, ErrConfig) {
				t.Errorf("SetName(%q): %v, want ErrConfig", name, err)
			}
		}
		if a.nameNow() != "a" {
			t.Errorf("name is %q after refused changes", a.nameNow())
		}
	})
}

// Our own beacons, looped back by the LAN, are not a peer; another process
// of the same key is.
func TestOwnBeaconsIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		a := lan.join(t, "a", 1)
		time.Sleep(3 * testInterval)
		a.expect(t)
		if st := a.Stats(); st.Received != 0 || st.Announced < 3 || len(a.Nearby()) != 0 {
			t.Errorf("alone on the LAN: %+v, nearby %v", st, a.Nearby())
		}
		twin := start(context.Background(), a.cfg, &fakeNet{lan: lan, addr: netip.MustParseAddrPort("192.0.2.9:40009")})
		defer twin.Close()
		got := a.pending(t)
		if len(got) != 1 || got[0].Peer.Instance != twin.Instance() {
			t.Errorf("a's events when a second process of its key came: %v", got)
		}
	})
}

// A storm of beacons costs bounded memory and bounded answers: each source
// gets its share, the table has a bound, and what is over is dropped and
// counted.
func TestStormBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := newLAN()
		a := lan.join(t, "a", 1)
		a.pending(t)
		// One source, 10,000 keys, in one second.
		from := netip.MustParseAddrPort("192.0.2.66:1000")
		for i := range 10_000 {
			a.receive(stormBeacon(t, i), from)
			if i%inboxLen == inboxLen-1 {
				synctest.Wait()
				time.Sleep(100 * time.Microsecond)
			}
		}
		n := len(a.pending(t))
		st := a.Stats()
		if max := sourceBurst + sourceRate*2; n > max || int(st.Answered) > max {
			t.Errorf("one source's storm made %d peers and %d answers, want at most %d", n, st.Answered, max)
		}
		if st.Drops[DropRateLimited] == 0 {
			t.Errorf("no drops counted as rate limited: %+v", st)
		}
		// Many sources, one new key each: the table stops at MaxNearby.
		for i := range 4 * MaxNearby {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 1000)
			a.receive(stormBeacon(t, 10_000+i), src)
			if i%inboxLen == inboxLen-1 {
				synctest.Wait()
			}
		}
		a.pending(t)
		st = a.Stats()
		if got := len(a.Nearby()); got != MaxNearby {
			t.Errorf("%d nearby after a storm from many sources, want MaxNearby = %d", got, MaxNearby)
		}
		if st.Drops[DropTableFull] == 0 {
			t.Errorf("no drops counted for the full table: %+v", st)
		}
		// Garbage is counted by reason.
		a.receive([]byte("carol:hello"), from)
		a.receive(append([]byte{0x55, 0x44, 0x50, 0x63, 9}, make([]byte, 60)...), from)
		synctest.Wait()
		if st := a.Stats(); st.Drops[DropMalformed] != 1 || st.Drops[DropVersion] != 1 {
			t.Errorf("drops after a chat datagram and a version 9 beacon: %v", st.Drops)
		}
	})
}

// Start refuses a config whose beacon could not be sent.
func TestStartRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "a", ChatPort: 7475},                         // no key
		{Key: keys.PublicKey{1}, ChatPort: 7475},            // no name
		{Key: keys.PublicKey{1}, Name: "a"},                 // no chat port
		{Key: keys.PublicKey{1}, Name: "\xff", ChatPort: 1}, // not UTF-8
	} {
		if d, err := Start(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			if d != nil {
				d.Close()
			}
			t.Errorf("Start(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}
