package rooms_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/chat/roomchat"
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/testenv"
)

// BenchmarkRoomLoopback is BenchmarkRoomMessage on the whole stack, as
// udpchat runs a room: each member a chat node with its rooms
// (roomchat), over Noise sessions on real UDP sockets on 127.0.0.1, every
// member connected to every other. Members in turn say 100 bytes into a
// room of 10 (a room of 50 takes minutes to form here: see BENCHMARKS.md);
// one op is one message on every other member's disk,
// which the sender learns as ✓✓ (n-1)/(n-1). cpu-µs/delivery is the
// process's CPU time, all n nodes' included, over the n-1 deliveries of
// an op; BenchmarkChatBaseline/net=loopback is the 1:1 chat beside it.
func BenchmarkRoomLoopback(b *testing.B) {
	for _, n := range []int{10} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			members := loopbackRoom(b, n)
			text := strings.Repeat("x", 100) // a line: a NUL first would make it a note
			say := func(m *loopbackMember) {
				msg, err := m.rooms.Say("ops", text)
				if err != nil {
					b.Fatal(err)
				}
				timeout := time.After(30 * time.Second)
				for {
					select {
					case d := <-m.delivered:
						if d == msg.ID {
							return
						}
					case <-timeout:
						b.Fatalf("%s's message not on every member's disk in time", m.name)
					}
				}
			}
			say(members[0]) // sessions warm, outside the clock
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := testenv.CPUTime()
			for i := range b.N {
				say(members[i%n])
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(testenv.CPUTime()-cpu0)/1e3/float64(b.N)/float64(n-1), "cpu-µs/delivery")
		})
	}
}

// loopbackMember is one member of BenchmarkRoomLoopback's room.
type loopbackMember struct {
	name      string
	node      *chat.Node
	rooms     *roomchat.Bridge
	invited   chan struct{}       // an invitation came
	delivered chan chat.RoomMsgID // our messages every member has
	closed    chan struct{}       // its events are all read
}

// closeAll closes the members at once: a node's Close waits up to its
// context for its peers to hear it leave.
func closeAll(members []*loopbackMember) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range members {
		if m == nil {
			continue
		}
		wg.Go(func() {
			m.rooms.Close()
			m.node.Close(ctx)
			<-m.closed
		})
	}
	wg.Wait()
}

// loopbackRoom starts n members on loopback, connects each to every other,
// and has the first found room ops and invite the others, who join. It
// returns once every member lists all n.
func loopbackRoom(b *testing.B, n int) []*loopbackMember {
	b.Helper()
	members := make([]*loopbackMember, n)
	for i := range members {
		m := &loopbackMember{name: fmt.Sprintf("m%d", i), invited: make(chan struct{}, 16), delivered: make(chan chat.RoomMsgID, 1024)}
		var self [32]byte
		m.node, self = chattest.LoopbackNode(b, m.name)
		_, sign, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		m.rooms, err = roomchat.Start(roomchat.Config{Node: m.node, Self: self, Sign: sign, Storage: rooms.NewMemStorage()})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range m.node.Events() {
				switch ev := ev.(type) {
				case chat.RoomInvite:
					m.invited <- struct{}{}
				case chat.RoomDelivery:
					if ev.K == ev.N {
						m.delivered <- ev.ID
					}
				}
			}
		}()
		m.closed = done
		members[i] = m
	}
	b.Cleanup(func() { closeAll(members) })
	for i, m := range members {
		for _, o := range members[i+1:] {
			if err := m.node.Connect(o.node.LocalAddr()); err != nil {
				b.Fatal(err)
			}
		}
	}
	waitFor(b, "every member knows every other by name", func() bool {
		for _, m := range members {
			if len(slices.DeleteFunc(m.node.Peers(), func(p chat.PeerInfo) bool { return p.Name == "" })) != n-1 {
				return false
			}
		}
		return true
	})
	founder := members[0]
	if _, err := founder.rooms.Create("ops"); err != nil {
		b.Fatal(err)
	}
	for _, m := range members[1:] {
		if err := founder.rooms.Invite("ops", m.name); err != nil && !errors.Is(err, chat.ErrInviteWaits) {
			b.Fatal(err)
		}
	}
	for _, m := range members[1:] {
		select {
		case <-m.invited:
		case <-time.After(30 * time.Second):
			b.Fatalf("%s not invited in time", m.name)
		}
		if err := m.rooms.Join("ops"); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "every member lists them all", func() bool {
		for _, m := range members {
			if l := m.rooms.List(); len(l) != 1 || len(l[0].Members) != n {
				return false
			}
		}
		return true
	})
	return members
}

// waitFor waits for cond, checking it as time passes.
func waitFor(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("not in time: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
