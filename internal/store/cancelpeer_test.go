package store

import (
	"fmt"
	"slices"
	"testing"
)

// CancelPeer gives up on everything pending to one peer, and on nothing
// else; a Sent message (not kept in the outbox) can still be marked
// delivered.
func TestCancelPeerAndSentDelivered(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	const dead, live = "127.0.0.1:9", "127.0.0.1:9002"
	for i := range 3 {
		for _, peer := range []string{dead, live} {
			if err := s.AddOutgoing(ctx, testMessage(peer, testID(i), fmt.Sprint(peer, " m", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.MarkDelivered(ctx, dead, testID(0)); err != nil {
		t.Fatal(err)
	}
	n, err := s.CancelPeer(ctx, dead)
	if err != nil || n != 2 {
		t.Fatalf("CancelPeer = %d, %v; want the 2 still pending", n, err)
	}
	pending, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{live + " m0", live + " m1", live + " m2"}; !slices.Equal(texts(pending), want) {
		t.Errorf("Pending after CancelPeer: %q, want %q", texts(pending), want)
	}
	if n, err := s.CancelPeer(ctx, "127.0.0.1:1"); err != nil || n != 0 {
		t.Errorf("CancelPeer of a peer with nothing pending = %d, %v", n, err)
	}

	if err := s.AddSent(ctx, testMessage(live, testID(9), "not kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, live, testID(9)); err != nil {
		t.Fatalf("MarkDelivered of a Sent message: %v", err)
	}
	if st, err := s.state(ctx, live, testID(9)); err != nil || st != Delivered {
		t.Errorf("a Sent message acknowledged is %v, %v; want delivered", st, err)
	}
}
