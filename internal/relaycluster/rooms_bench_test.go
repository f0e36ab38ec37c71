package relaycluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relay/relaytest"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
)

// The room fan-out (BENCHMARKS.md, "Room fan-out"): one member posts b.N
// datagrams of roomBenchSize bytes to a room of 10, 100 or 1,000 members
// spread evenly over 1, 2 or 3 relays of one cluster (a three-node NATS
// cluster in this process, on loopback), at most roomBenchWindow posts'
// deliveries in flight; and, side by side, raw fan-out: one socket sending
// each datagram to every member's socket with batched writes (sendmmsg), no
// relay, no Noise. The figures are datagrams delivered a second and the CPU
// the whole process spent per delivered datagram: for the relays that is
// the sender's session, the relays' work, NATS, and each member's session
// opening its copy.
const (
	roomBenchSize   = 600
	roomBenchWindow = 8
)

func BenchmarkRoomFanOut(b *testing.B) {
	ns := natstest.StartCluster(b, 3)
	cfg := relay.Config{Rate: 1e9, Burst: 1 << 30, RoomRate: 1e9, RoomBurst: 1 << 30, QueueLen: 4 * roomBenchWindow}
	var relays []relaytest.Relay
	var servers []*relay.Server
	for i := range 3 {
		r := startClusterRelay(b, connect(b, ns, i), cfg)
		relays = append(relays, relaytest.Relay{Addr: r.Addr(), Key: r.PublicKey()})
		servers = append(servers, r.Server)
	}
	got := relaytest.NewCounter()
	// The members at each relay, made as a room needs them and each joining
	// every room of the run after its first.
	atRelay := make([][]*relaytest.Member, 3)
	made := 0
	for _, nrelays := range []int{1, 2, 3} {
		for _, nmembers := range []int{10, 100, 1000} {
			room := relay.RoomID{byte(nrelays), byte(nmembers >> 8), byte(nmembers)}
			// Made in the benchmark, so that -bench picks what it makes;
			// again for each b.N, from the members made already.
			b.Run(fmt.Sprintf("relays=%d/members=%d", nrelays, nmembers), func(sb *testing.B) {
				var members []*relaytest.Member
				want := make(map[*relay.Server]int)
				for j := range nmembers {
					r, k := j%nrelays, j/nrelays
					if k == len(atRelay[r]) {
						atRelay[r] = append(atRelay[r], relaytest.Join(b, relays[r], room, made, got))
						made++
					}
					members = append(members, atRelay[r][k])
					want[servers[r]]++
				}
				relaytest.SubscribeAll(sb, members, room, want)
				sender := members[0]
				warmUp(sb, got, nmembers-1, func() error { return sender.PostRoom(room, make([]byte, roomBenchSize)) }, servers)
				payload := make([]byte, roomBenchSize)
				if lost := runFanOut(sb, got, nmembers-1, func() error { return sender.PostRoom(room, payload) }); lost > 0 {
					logRelays(sb, servers)
				}
			})
		}
	}
	for _, nmembers := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("raw-sendmmsg/members=%d", nmembers), func(b *testing.B) { benchRawFanOut(b, nmembers) })
	}
}

// warmUp posts until one post reaches all want members: the relays have
// the subscriptions and NATS has told every node of them.
func warmUp(b *testing.B, got *relaytest.Counter, want int, post func() error, servers []*relay.Server) {
	for range 50 {
		start := got.N()
		if err := post(); err != nil {
			b.Fatal(err)
		}
		for got.N()-start < int64(want) && got.Wait(time.Second) {
		}
		if got.N()-start >= int64(want) {
			return
		}
	}
	logRelays(b, servers)
	b.Fatal("no post reached every member")
}

// logRelays logs what the relays counted: where what was lost went.
func logRelays(b *testing.B, servers []*relay.Server) {
	for i, s := range servers {
		st := s.Stats()
		b.Logf("relay %d: %d clients, %d posts, %d delivered, drops %v", i, st.Clients, st.RoomPosts, st.RoomDelivered, st.Drops)
	}
}

// benchRawFanOut sends each datagram from one socket to n-1 others with
// batched writes, and counts what they read.
func benchRawFanOut(b *testing.B, n int) {
	got := relaytest.NewCounter()
	src, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	ms := make([]udp.Message, n-1)
	payload := make([]byte, roomBenchSize)
	for i := range ms {
		dst, err := udp.Listen(relaytest.LoopbackIP(i).String() + ":0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { dst.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := dst.ReadFrom(buf); err != nil {
					return
				}
				got.Count()
			}
		}()
		ms[i] = udp.Message{Buf: payload, Addr: dst.LocalAddr()}
	}
	runFanOut(b, got, n-1, func() error { _, err := src.WriteBatch(ms); return err })
}

// runFanOut posts b.N times, each post to reach fanout members, keeping at
// most roomBenchWindow posts' deliveries unarrived; a window that makes no
// progress for a second is taken as lost (loopback or a queue dropped them)
// and counted: not less, since one post to 1,000 members keeps a loaded
// machine busy for tens of milliseconds before the first copy arrives. The poster sleeps while it waits, so the CPU measured is
// the fan-out's.
func runFanOut(b *testing.B, got *relaytest.Counter, fanout int, post func() error) (lost int64) {
	b.SetBytes(int64(roomBenchSize * fanout))
	start0 := got.N()
	cpu0 := testenv.CPUTime()
	b.ResetTimer()
	start := time.Now()
	arrived := func() int64 { return got.N() - start0 }
	for i := range b.N {
		for int64(i*fanout)-arrived()-lost >= int64(roomBenchWindow*fanout) {
			if !got.Wait(time.Second) {
				lost = int64(i*fanout) - arrived()
			}
		}
		if err := post(); err != nil {
			b.Fatal(err)
		}
	}
	for arrived()+lost < int64(b.N*fanout) {
		if !got.Wait(time.Second) {
			lost = int64(b.N*fanout) - arrived()
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(arrived())/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(testenv.CPUTime()-cpu0)/float64(max(arrived(), 1)), "cpu-ns/delivered")
	b.ReportMetric(float64(int64(b.N*fanout)-arrived())/float64(b.N*fanout)*100, "lost-%")
	return lost
}
