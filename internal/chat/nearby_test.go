package chat

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	ourKey   = "BLAKE2s:AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"
	carolKey = "BLAKE2s:CCCC-CCCC-CCCC-CCCC-CCCC-CCCC-CCCC-CCCC"
	daveKey  = "BLAKE2s:DDDD-DDDD-DDDD-DDDD-DDDD-DDDD-DDDD-DDDD"
)

// Someone heard on the LAN is news once, and again only when their name or
// address changes; gone is news once; none of them is a peer.
func TestNearbyEvents(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice", Security: Security{Encrypted: true, Fingerprint: ourKey}})
	c := Nearby{Name: "carol", Fingerprint: carolKey, Addr: carol}
	n.SawNearby(c)
	n.SawNearby(c) // heard again: nothing new
	wantEvents(t, n, c)

	moved := c
	moved.Addr = netip.MustParseAddrPort("[::ffff:10.0.0.9]:7475")
	n.SawNearby(moved)
	moved.Addr = netip.MustParseAddrPort("10.0.0.9:7475") // unmapped, as peers are
	wantEvents(t, n, moved)

	n.SawNearby(Nearby{Name: "alice", Fingerprint: ourKey, Addr: bob}) // ourselves, elsewhere
	wantEvents(t, n)

	if got := n.Nearby(); len(got) != 1 || got[0] != moved {
		t.Fatalf("Nearby() = %v, want only %v", got, moved)
	}
	if ps := n.Peers(); len(ps) != 0 {
		t.Fatalf("someone nearby became a peer: %v", ps)
	}

	n.NearbyGone(carolKey)
	n.NearbyGone(carolKey) // not nearby any more: nothing new
	wantEvents(t, n, Gone(moved))
	if got := n.Nearby(); len(got) != 0 {
		t.Fatalf("Nearby() = %v after gone, want none", got)
	}
}

// Someone nearby is found by name, in any case, or by key; two of one name
// are named by key.
func TestFindNearby(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	c := Nearby{Name: "Carol", Fingerprint: carolKey, Addr: carol}
	n.SawNearby(c)
	for _, who := range []string{"Carol", "carol", carolKey, strings.ToLower(carolKey)} {
		if got, err := n.FindNearby(who); err != nil || got != c {
			t.Errorf("FindNearby(%q) = %v, %v; want %v", who, got, err, c)
		}
	}
	if _, err := n.FindNearby("bob"); !errors.Is(err, ErrNotNearby) {
		t.Errorf("FindNearby(bob) = %v, want ErrNotNearby", err)
	}

	n.SawNearby(Nearby{Name: "carol", Fingerprint: daveKey, Addr: bob})
	_, err := n.FindNearby("carol")
	if err == nil || errors.Is(err, ErrNotNearby) || !strings.Contains(err.Error(), carolKey) || !strings.Contains(err.Error(), daveKey) {
		t.Errorf("FindNearby(carol) with two carols = %v, want an error naming both keys", err)
	}
	if got, err := n.FindNearby(daveKey); err != nil || got.Addr != bob {
		t.Errorf("FindNearby(%s) = %v, %v", daveKey, got, err)
	}
}

// WaitNearby waits for someone to be heard, and no longer than ctx.
func TestWaitNearby(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	c := Nearby{Name: "carol", Fingerprint: carolKey, Addr: carol}
	type result struct {
		p   Nearby
		err error
	}
	got := make(chan result, 1)
	go func() {
		p, err := n.WaitNearby(context.Background(), "carol")
		got <- result{p, err}
	}()
	n.SawNearby(Nearby{Name: "dave", Fingerprint: daveKey, Addr: bob})
	n.SawNearby(c)
	if r := <-got; r.err != nil || r.p != c {
		t.Fatalf("WaitNearby = %v, %v; want %v", r.p, r.err, c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := n.WaitNearby(ctx, "erin"); !errors.Is(err, ErrNotNearby) {
		t.Fatalf("WaitNearby for no one = %v, want ErrNotNearby once ctx ends", err)
	}
}
