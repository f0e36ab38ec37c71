package rooms

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// flush carries datagrams, with no loss and no clock, until none are left.
func (s *sim) flush() (delivered int) {
	for {
		quiet := true
		for i, node := range s.nodes {
			for _, o := range node.Outbox() {
				quiet = false
				s.nodes[s.index(o.To)].Receive(s.ids[i], o.Datagram) //nolint:errcheck // counted
				delivered++
			}
			node.Events()
		}
		if quiet {
			return delivered
		}
	}
}

// BenchmarkRoomMessage sends messages of 100 bytes from members in turn into
// a room of 10 or 50, in one process, each carried to every member (and
// acknowledged) before the next: one op is one message delivered to all.
// cpu-µs/delivery is the process's CPU time (as BenchmarkChatBaseline's)
// of an op over the n-1 members it reaches: everything runs on one
// goroutine, so that is close to its wall time on an idle machine.
func BenchmarkRoomMessage(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			s := newSim(b, n, 8)
			s.found(wire.RoomHistoryAll, 0, n)
			s.flush()
			text := make([]byte, 100)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := testenv.CPUTime()
			for i := range b.N {
				s.send(i%n, string(text))
				s.flush()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(testenv.CPUTime()-cpu0)/1e3/float64(b.N)/float64(n-1), "cpu-µs/delivery")
			if got := len(s.nodes[n-1].Messages(s.room)); got != b.N {
				b.Fatalf("the last member holds %d of %d messages", got, b.N)
			}
		})
	}
}

// BenchmarkVerifyBaseline is the floor under a delivery: one Ed25519
// verification of a message of 100 bytes, run beside BenchmarkRoomMessage
// so that BENCHMARKS.md can give a delivery's cost as a ratio to it; its
// CPU time is measured as theirs.
func BenchmarkVerifyBaseline(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := make([]byte, 100+64)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-cpu0)/1e3/float64(b.N), "cpu-µs/verify")
}

// BenchmarkChatBaseline is the 1:1 chat beside BenchmarkRoomMessage and
// BenchmarkRoomLoopback, so that BENCHMARKS.md can give a room's cost as a
// ratio to it: alice's chat node sends messages of 100 bytes to bob's over
// the whole stack (the chat, the reliable transport, a Noise session), on
// the in-memory network and on real sockets on loopback, each delivered
// and acknowledged before the next. One op is one delivery. The nodes run
// goroutines of their own, so cpu-µs/delivery is the process's CPU time
// over the deliveries; msgs/s is wall time, and bounded by the transport's
// acknowledgement delay (1 ms), which the room core has no clock for.
func BenchmarkChatBaseline(b *testing.B) {
	b.Run("net=memory", func(b *testing.B) {
		mn := udptest.NewMemNetwork()
		chatBaseline(b, benchChatNode(b, chattest.SecureNode(b, mn, "10.0.0.1:7475", "alice")),
			benchChatNode(b, chattest.SecureNode(b, mn, "10.0.0.2:7475", "bob")))
	})
	b.Run("net=loopback", func(b *testing.B) {
		alice, _ := chattest.LoopbackNode(b, "alice")
		bob, _ := chattest.LoopbackNode(b, "bob")
		chatBaseline(b, benchChatNode(b, alice), benchChatNode(b, bob))
	})
}

// chatBaseline is BenchmarkChatBaseline between alice and bob.
func chatBaseline(b *testing.B, alice, bob *chat.Node) {
	if err := alice.Connect(bob.LocalAddr()); err != nil {
		b.Fatal(err)
	}
	text := string(make([]byte, 100))
	deliver := func() {
		if _, err := alice.Send(text); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := alice.WaitDelivered(ctx); err != nil {
			b.Fatalf("not delivered: %v", err)
		}
	}
	deliver() // the handshake and the hellos, outside the clock
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testenv.CPUTime()
	for range b.N {
		deliver()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(testenv.CPUTime()-cpu0)/1e3/float64(b.N), "cpu-µs/delivery")
}

// benchChatNode reads and drops n's events, and closes n when b ends.
func benchChatNode(b *testing.B, n *chat.Node) *chat.Node {
	b.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n.Events() {
		}
	}()
	b.Cleanup(func() {
		n.Close(context.Background())
		<-done
	})
	return n
}

// FuzzReceive feeds a member of a room arbitrary datagrams from another
// member: it drops what is wrong and never fails.
func FuzzReceive(f *testing.F) {
	for _, d := range []wire.RoomDatagram{
		{Type: wire.RoomStatus, Heads: []uint64{5, 7}, Reach: []byte{3}, Epoch: 9},
		{Type: wire.RoomGapRequest, Seq: 1, To: 3},
		{Type: wire.RoomHistoryRequest},
		{Type: wire.RoomForwardTo, Body: []byte{byte(wire.RoomAck)}},
		{Type: wire.RoomLog, Entries: [][]byte{{1}}},
	} {
		b, _ := wire.AppendRoom(nil, &d)
		f.Add(b)
	}
	s := newSim(f, 3, 9)
	s.found(wire.RoomHistoryLast, 3, 3)
	s.flush()
	s.send(1, "hello")
	s.flush()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1+wire.RoomIDLen {
			copy(b[1:], s.room[:]) // most datagrams then reach the room's handlers
		}
		s.nodes[0].Receive(s.ids[2], b) //nolint:errcheck // drops are the point
		s.nodes[0].Tick()
		s.nodes[0].Outbox()
		s.nodes[0].Events()
	})
}
