package chat_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/udp/udptest"
)

func TestPeerStatsOverTheTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		delay := udptest.Impairment{Delay: 10 * time.Millisecond}
		alice, aliceEvents := reliableNode(t, mn, "10.0.0.1:7475", "alice", delay)
		bob, bobEvents := reliableNode(t, mn, "10.0.0.2:7475", "bob", delay)
		alice.Connect(bob.LocalAddr())
		ctx := context.Background()
		for range 3 {
			if _, err := alice.SendTo(bob.LocalAddr(), "hello"); err != nil {
				t.Fatal(err)
			}
		}
		if err := alice.WaitDelivered(ctx); err != nil {
			t.Fatal(err)
		}
		stats, err := alice.PeerStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 {
			t.Fatalf("PeerStats = %+v, want bob's", stats)
		}
		s := stats[0]
		if s.Addr != bob.LocalAddr() || s.MessagesOut < 3 || s.PacketsSent == 0 || s.BytesOut == 0 ||
			s.PathRTT < 20*time.Millisecond || s.LossRate() != 0 {
			t.Errorf("bob's stats %+v: want 3+ messages out, packets and bytes sent, RTT ≥ 20ms, no loss", s)
		}
		alice.Close(ctx)
		bob.Close(ctx)
		aliceEvents()
		bobEvents()
	})
}
