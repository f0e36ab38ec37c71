package transport

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	addrA = netip.MustParseAddrPort("127.0.0.1:1001")
	addrB = netip.MustParseAddrPort("127.0.0.1:1002")
)

func listen(t *testing.T, n *udptest.MemNetwork, addr netip.AddrPort) udp.Conn {
	t.Helper()
	c, err := n.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func start(t *testing.T, c udp.Conn, h link.Handler, cfg Config) *Endpoint {
	t.Helper()
	e, err := New(c, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func closeNow(e *Endpoint) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.Close(ctx)
}

// sizeOf gives message i of a stream its size: mostly short, with a few of
// the largest size there is, and some that need a few chunks.
func sizeOf(i int) int {
	switch {
	case i%500 == 7:
		return MaxMessage
	case i%50 == 3:
		return 5000 + i
	default:
		return 20 + i%200
	}
}

// exchange sends n messages each way at once between endpoints on the two
// conns and checks that all arrive exactly once, in order, byte for byte,
// and that every one is reported delivered.
func exchange(t *testing.T, ca, cb udp.Conn, n int, cfg Config) (a, b *Endpoint) {
	ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
	a = start(t, ca, ra, cfg)
	b = start(t, cb, rb, cfg)
	var refsA, refsB []uint64
	for i := range n {
		ref, err := a.Send(addrB, transporttest.Message(1, i, sizeOf(i)))
		if err != nil {
			t.Fatal(err)
		}
		refsA = append(refsA, ref)
		ref, err = b.Send(addrA, transporttest.Message(2, i, sizeOf(i)))
		if err != nil {
			t.Fatal(err)
		}
		refsB = append(refsB, ref)
	}
	rb.WaitFor(t, "A's messages at B", time.Hour, func() bool { return rb.Count(addrA) >= n })
	ra.WaitFor(t, "B's messages at A", time.Hour, func() bool { return ra.Count(addrB) >= n })
	ra.WaitFor(t, "A's deliveries", time.Hour, delivered(ra, refsA))
	rb.WaitFor(t, "B's deliveries", time.Hour, delivered(rb, refsB))
	transporttest.CheckStream(t, rb.Received(addrA), 1, n, sizeOf)
	transporttest.CheckStream(t, ra.Received(addrB), 2, n, sizeOf)
	return a, b
}

func TestExchangeClean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		a, b := exchange(t, listen(t, n, addrA), listen(t, n, addrB), 1000, Config{})
		for _, e := range []*Endpoint{a, b} {
			ps, err := e.PeerStats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", ps)
			if len(ps) != 1 || ps[0].Retransmits != 0 || ps[0].PacketsLost != 0 {
				t.Errorf("on a clean network: %+v, want one peer, nothing lost or retransmitted", ps)
			}
			closeNow(e)
		}
	})
}

func TestExchangeImpaired(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := udptest.NewMemNetwork()
				bad := udptest.Impairment{
					Loss: 0.3, Duplicate: 0.1, Reorder: 0.1, ReorderDelay: 3 * time.Millisecond,
					Delay: time.Millisecond, Jitter: 2 * time.Millisecond,
				}
				bad.Seed = seed
				ca := udptest.Impair(listen(t, n, addrA), bad)
				bad.Seed = seed + 100
				cb := udptest.Impair(listen(t, n, addrB), bad)
				a, b := exchange(t, ca, cb, 2000, Config{})
				ps, _ := a.PeerStats(context.Background())
				t.Logf("A: %+v\nimpair A %+v B %+v", ps, ca.Stats(), cb.Stats())
				for _, c := range []*udptest.Impaired{ca, cb} {
					if s := c.Stats(); s.Dropped == 0 || s.Duplicated == 0 || s.Reordered == 0 {
						t.Errorf("the impairment did not impair: %+v", s)
					}
				}
				closeNow(a)
				closeNow(b)
			})
		})
	}
}

// With the smallest packet size allowed (room for one chunk) and path MTU
// discovery off, nothing larger is ever written, and everything still
// arrives.
func TestExchangeSmallestPackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		mtu := udptest.Impairment{MTU: wire.MinPacket}
		ca, cb := udptest.Impair(listen(t, n, addrA), mtu), udptest.Impair(listen(t, n, addrB), mtu)
		a, b := exchange(t, ca, cb, 600, Config{MaxPacket: wire.MinPacket, MaxPathPacket: wire.MinPacket})
		for _, c := range []*udptest.Impaired{ca, cb} {
			if s := c.Stats(); s.Dropped != 0 {
				t.Errorf("%d datagrams over %d bytes were written", s.Dropped, wire.MinPacket)
			}
		}
		closeNow(a)
		closeNow(b)
	})
}

// The congestion window is a real one: on a path that drops half of what
// it is sent it shrinks to the minimum and stays near it, so a 256 KiB
// paste does not flood a path that cannot carry it; on the same path
// without loss it grows past the initial window. Path MTU discovery is off,
// so that the window is counted in packets of the base size the constants
// are in (with larger packets the minimum is two of those).
func TestWindowShrinksUnderHeavyLoss(t *testing.T) {
	for _, loss := range []float64{0, 0.5} {
		t.Run(fmt.Sprint("loss", loss), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := udptest.NewMemNetwork()
				path := udptest.Impairment{Loss: loss, Delay: 10 * time.Millisecond, Seed: 7}
				ca := udptest.Impair(listen(t, n, addrA), path)
				cb := udptest.Impair(listen(t, n, addrB), udptest.Impairment{Delay: 10 * time.Millisecond})
				ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
				base := Config{MaxPathPacket: wire.MaxDatagram}
				a, b := start(t, ca, ra, base), start(t, cb, rb, base)
				defer closeNow(b)
				defer closeNow(a)
				if err := a.Connect(addrB); err != nil {
					t.Fatal(err)
				}
				ra.WaitFor(t, "B up", time.Hour, func() bool { return ra.HasEvent("up " + addrB.String()) })
				ref, err := a.Send(addrB, make([]byte, 256<<10))
				if err != nil {
					t.Fatal(err)
				}
				var windows []int
				for {
					time.Sleep(5 * time.Millisecond)
					ps, err := a.PeerStats(context.Background())
					if err != nil || len(ps) != 1 {
						t.Fatalf("peer stats: %v %v", ps, err)
					}
					windows = append(windows, ps[0].Window)
					if ra.AllDelivered([]uint64{ref}) {
						break
					}
				}
				slices.Sort(windows)
				median, largest := windows[len(windows)/2], windows[len(windows)-1]
				t.Logf("%d samples over %v: window median %d, largest %d; %+v", len(windows),
					time.Duration(len(windows))*5*time.Millisecond, median, largest, ca.Stats())
				if loss == 0 {
					if largest <= initialWindow {
						t.Errorf("on a clean path the window never grew past %d", largest)
					}
					return
				}
				if largest > initialWindow {
					t.Errorf("under %.0f%% loss the window reached %d, past the initial %d", 100*loss, largest, initialWindow)
				}
				if median > 2*minimumWindow {
					t.Errorf("under %.0f%% loss the window's median is %d, want near the minimum %d", 100*loss, median, minimumWindow)
				}
			})
		})
	}
}

// Over real loopback sockets, which batch their reads and writes on Linux
// (udp.BatchConn), everything arrives as over the in-memory network.
func TestExchangeOverSockets(t *testing.T) {
	sa, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		sa.Close()
		t.Fatal(err)
	}
	_, batching := udp.Conn(sa).(udp.BatchConn)
	t.Logf("batching: %v", batching)
	ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
	a, b := start(t, sa, ra, Config{}), start(t, sb, rb, Config{})
	defer closeNow(a)
	defer closeNow(b)
	to, back := sb.LocalAddr(), sa.LocalAddr()
	const n = 600
	refs := sendAll(t, a, to, 1, 0, n)
	sendAll(t, b, back, 2, 0, n)
	rb.WaitFor(t, "A's messages at B", time.Hour, func() bool { return rb.Count(back) >= n })
	ra.WaitFor(t, "B's messages at A", time.Hour, func() bool { return ra.Count(to) >= n })
	ra.WaitFor(t, "A's deliveries", time.Hour, delivered(ra, refs))
	transporttest.CheckStream(t, rb.Received(back), 1, n, sizeOf)
	transporttest.CheckStream(t, ra.Received(to), 2, n, sizeOf)
}
