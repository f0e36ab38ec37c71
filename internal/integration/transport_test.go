package integration_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// sizeOf: mostly short messages, some of a few chunks, and one of the
// largest size there is (256 KiB + 1 KiB) in every 250.
func sizeOf(i int) int {
	switch {
	case i%250 == 7:
		return transport.MaxMessage
	case i%50 == 3:
		return 5000 + i
	default:
		return 20 + i%200
	}
}

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1001")
	addrB = netip.MustParseAddrPort("10.0.0.2:1002")
)

// chatter is one side of a chat over a secure conn: transport on top.
type chatter struct {
	addr netip.AddrPort
	sec  *secure.Conn
	ep   *transport.Endpoint
	rec  *transporttest.Recorder
}

// transportConfig leaves room for the encryption below the transport.
var transportConfig = transport.Config{MaxPacket: secure.MaxPacket}

func newChatter(t testing.TB, inner udp.Conn, cfg secure.Config) *chatter {
	t.Helper()
	sec := securetest.NewConn(t, secure.NewConn, inner, cfg)
	return newChatterConn(t, sec, sec)
}

// newChatterConn starts a transport on conn, which is sec or wraps it.
func newChatterConn(t testing.TB, conn udp.Conn, sec *secure.Conn) *chatter {
	t.Helper()
	rec := transporttest.NewRecorder()
	ep, err := transport.New(conn, rec, transportConfig)
	if err != nil {
		t.Fatal(err)
	}
	return &chatter{addr: conn.LocalAddr(), sec: sec, ep: ep, rec: rec}
}

func (c *chatter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.ep.Close(ctx)
}

// exchange sends n messages each way at once and checks that all arrive
// exactly once, in order, byte for byte, and are reported delivered.
func exchange(t testing.TB, a, b *chatter, n int, limit time.Duration) {
	t.Helper()
	s := streams{a: a, b: b}
	s.queue(t, n)
	s.wait(t, limit)
}

// streams are the test streams between two chatters, A's (1) and B's (2),
// and the references of the messages queued so far.
type streams struct {
	a, b         *chatter
	refsA, refsB []uint64
}

// queue sends the next n messages of each stream.
func (s *streams) queue(t testing.TB, n int) {
	t.Helper()
	for range n {
		i := len(s.refsA)
		ref, err := s.a.ep.Send(s.b.addr, transporttest.Message(1, i, sizeOf(i)))
		if err != nil {
			t.Fatal(err)
		}
		s.refsA = append(s.refsA, ref)
		if ref, err = s.b.ep.Send(s.a.addr, transporttest.Message(2, i, sizeOf(i))); err != nil {
			t.Fatal(err)
		}
		s.refsB = append(s.refsB, ref)
	}
}

// wait checks that everything queued arrives (see waitExchange).
func (s *streams) wait(t testing.TB, limit time.Duration) {
	t.Helper()
	waitExchange(t, s.a, s.b, s.refsA, s.refsB, len(s.refsA), limit)
}

func waitExchange(t testing.TB, a, b *chatter, refsA, refsB []uint64, n int, limit time.Duration) {
	t.Helper()
	b.rec.WaitFor(t, "A's messages at B", limit, func() bool { return b.rec.Count(a.addr) >= len(refsA) })
	a.rec.WaitFor(t, "B's messages at A", limit, func() bool { return a.rec.Count(b.addr) >= len(refsB) })
	a.rec.WaitFor(t, "A's deliveries", limit, func() bool { return a.rec.AllDelivered(refsA) })
	b.rec.WaitFor(t, "B's deliveries", limit, func() bool { return b.rec.AllDelivered(refsB) })
	transporttest.CheckStream(t, b.rec.Received(a.addr), 1, len(refsA), sizeOf)
	transporttest.CheckStream(t, a.rec.Received(b.addr), 2, len(refsB), sizeOf)
}

// TestTransportOverSecure: the transport, unchanged but for its packet
// budget, over secure conns on a network that loses 30%, duplicates 10% and
// reorders: 2,000 messages each way (as in the transport's own test), eight
// of them 256 KiB, exactly once and in order.
func TestTransportOverSecure(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := udptest.NewMemNetwork()
				bad := udptest.Impairment{
					Loss: 0.3, Duplicate: 0.1, Reorder: 0.1, ReorderDelay: 3 * time.Millisecond,
					Delay: time.Millisecond, Jitter: 2 * time.Millisecond, MTU: 1200,
				}
				bad.Seed = seed
				ia := udptest.Impair(securetest.Listen(t, n, addrA), bad)
				bad.Seed = seed + 100
				ib := udptest.Impair(securetest.Listen(t, n, addrB), bad)
				storeA, storeB := securetest.NewTrustStore(), securetest.NewTrustStore()
				a := newChatter(t, ia, secure.Config{Static: securetest.MustKey(t), Verify: storeA.Verify})
				b := newChatter(t, ib, secure.Config{Static: securetest.MustKey(t), Verify: storeB.Verify})
				exchange(t, a, b, 2000, time.Hour)
				sa, sb := a.sec.Stats(), b.sec.Stats()
				t.Logf("A secure %+v\nB secure %+v\nimpair A %+v B %+v", sa, sb, ia.Stats(), ib.Stats())
				for _, s := range []secure.Stats{sa, sb} {
					if s.Drops[secure.DropAuth] != 0 || s.Drops[secure.DropOversize] != 0 || s.Drops[secure.DropTooBig] != 0 {
						t.Errorf("drops that loss and duplication must not cause: %v", s.Drops)
					}
				}
				if sa.Drops[secure.DropReplay]+sb.Drops[secure.DropReplay] == 0 {
					t.Error("duplicated datagrams were not dropped as replays")
				}
				for _, c := range []*udptest.Impaired{ia, ib} {
					if s := c.Stats(); s.Dropped == 0 || s.Duplicated == 0 || s.Reordered == 0 {
						t.Errorf("the impairment did not impair: %+v", s)
					}
				}
				a.close()
				b.close()
			})
		})
	}
}

// TestRekeyWhileStreaming: with tiny rekey thresholds, sessions change
// dozens of times while both sides stream; on a clean network no datagram
// is dropped for it and the transport never has to resend.
func TestRekeyWhileStreaming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		cfg := func() secure.Config {
			return secure.Config{
				Static:            securetest.MustKey(t),
				RekeyAfterPackets: 100,
				RekeyAfterTime:    3 * time.Second,
				RejectAfterTime:   5 * time.Second,
			}
		}
		a := newChatter(t, securetest.Listen(t, n, addrA), cfg())
		b := newChatter(t, securetest.Listen(t, n, addrB), cfg())
		var refsA, refsB []uint64
		const count = 600
		for i := range count {
			ref, err := a.ep.Send(addrB, transporttest.Message(1, i, sizeOf(i)))
			if err != nil {
				t.Fatal(err)
			}
			refsA = append(refsA, ref)
			if ref, err = b.ep.Send(addrA, transporttest.Message(2, i, sizeOf(i))); err != nil {
				t.Fatal(err)
			}
			refsB = append(refsB, ref)
			time.Sleep(50 * time.Millisecond) // stream over 30 s of (virtual) time
		}
		waitExchange(t, a, b, refsA, refsB, count, time.Hour)
		sa, sb := a.sec.Stats(), b.sec.Stats()
		t.Logf("A %+v\nB %+v", sa, sb)
		if sa.Rekeys+sb.Rekeys < 20 {
			t.Errorf("only %d rekeys", sa.Rekeys+sb.Rekeys)
		}
		for _, s := range []secure.Stats{sa, sb} {
			if s.Dropped() != 0 {
				t.Errorf("drops: %v", s.Drops)
			}
			// A session answered during a simultaneous rekey may be
			// superseded before its first packet; it expires unconfirmed.
			if s.Peers != 1 || s.HalfOpen > 8 {
				t.Errorf("tables: %d peers, %d half-open", s.Peers, s.HalfOpen)
			}
		}
		for _, c := range []*chatter{a, b} {
			ps, err := c.ep.PeerStats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 || ps[0].PacketsLost != 0 || ps[0].Retransmits != 0 {
				t.Errorf("transport: %+v, want nothing lost or resent", ps)
			}
		}
		a.close()
		b.close()
	})
}
