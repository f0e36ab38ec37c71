package transport

import (
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// A path that carries anything: the search ends near the ceiling, and a
// large message then goes in packets of that size, several chunks each,
// where the base size carries one.
func TestPathMTUProbesRaiseThePacketSize(t *testing.T) {
	x := newBench(t, false)
	p := x.peerA()
	ceiling := x.a.cfg.MaxPathPacket
	if got := p.pmtu.current; got <= ceiling-searchPrecision || got > ceiling {
		t.Fatalf("path MTU %d after the search, want within %d of the ceiling %d", got, searchPrecision, ceiling)
	}
	if ps := x.a.peerStats(); ps[0].MaxPacket != p.pmtu.current || ps[0].ProbesLost != 0 {
		t.Errorf("PeerStats: MaxPacket %d, %d probes lost; want %d, none", ps[0].MaxPacket, ps[0].ProbesLost, p.pmtu.current)
	}
	if _, err := x.a.Send(addrB, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	x.a.takeHandoffs()
	x.flush(x.a)
	largest := 0
	for _, b := range x.ta.out[:x.ta.n] {
		largest = max(largest, len(b))
	}
	if largest <= wire.MaxDatagram || largest > p.pmtu.current {
		t.Errorf("a 64 KiB message went in packets of up to %d bytes, want over %d and at most %d", largest, wire.MaxDatagram, p.pmtu.current)
	}
	r0 := x.hb.received
	for i := 0; x.hb.received == r0; i++ {
		if i == 100 {
			t.Fatalf("B did not receive the message in %d round trips", i)
		}
		x.move(x.ta, x.b, addrA)
		x.move(x.tb, x.a, addrB)
	}
	if ps := x.a.peerStats(); ps[0].PacketsLost != 0 || ps[0].Retransmits != 0 {
		t.Errorf("%+v, want nothing lost or retransmitted", ps[0])
	}
}

// A path that carries datagrams of up to 1400 bytes: the search ends just
// under it, and the probes it lost on the way neither shrank the congestion
// window nor counted as lost packets or retransmissions.
func TestPathMTULostProbesAreNotDataLoss(t *testing.T) {
	const mtu = 1400
	x := newBenchMTU(t, false, mtu)
	for name, p := range map[string]*peer{"A": x.peerA(), "B": x.peerB()} {
		if got := p.pmtu.current; got <= mtu-searchPrecision || got > mtu {
			t.Errorf("%s: path MTU %d, want within %d under %d", name, got, searchPrecision, mtu)
		}
		if p.pmtu.probesLost == 0 {
			t.Errorf("%s: no probe lost on a path of %d bytes", name, mtu)
		}
		if p.stats.PacketsLost != 0 || p.stats.Retransmits != 0 {
			t.Errorf("%s: %d packets lost, %d retransmits; want none: only probes were", name, p.stats.PacketsLost, p.stats.Retransmits)
		}
		if w := p.cc.cwnd(); w < initialWindow {
			t.Errorf("%s: window %d, shrunk below the initial %d by lost probes", name, w, initialWindow)
		}
	}
	if x.ta.dropped == 0 {
		t.Error("the path dropped nothing: no probe was larger than it")
	}
}

// The path shrinks under a session that found 16 KiB (a route changed):
// the large packets vanish, and after a run of them is lost packets go back
// to the base size, everything still arrives, and a later search finds the
// new size.
func TestPathMTUBlackHoleFallsBackToBase(t *testing.T) {
	x := newBench(t, false)
	p := x.peerA()
	if p.pmtu.current <= wire.MaxDatagram {
		t.Fatalf("path MTU %d after the search, want over %d", p.pmtu.current, wire.MaxDatagram)
	}
	const mtu = 1400
	x.ta.mtu, x.tb.mtu = mtu, mtu
	r0 := x.hb.received
	const n = 8
	for range n {
		if _, err := x.a.Send(addrB, make([]byte, 32<<10)); err != nil {
			t.Fatal(err)
		}
	}
	x.a.takeHandoffs()
	for i := 0; x.hb.received < r0+n; i++ {
		if i == 500 {
			t.Fatalf("B received %d of %d messages after %d rounds; A: path MTU %d, %+v", x.hb.received-r0, n, i, p.pmtu.current, x.a.peerStats())
		}
		x.now = x.now.Add(20 * time.Millisecond)
		x.a.onTimers(x.now)
		x.flush(x.a)
		x.move(x.ta, x.b, addrA)
		x.move(x.tb, x.a, addrB)
	}
	if p.pmtu.blackHoles != 1 || p.pmtu.current != x.a.cfg.MaxPacket {
		t.Errorf("after the path shrank: %d black holes, path MTU %d; want 1, the base %d", p.pmtu.blackHoles, p.pmtu.current, x.a.cfg.MaxPacket)
	}
	x.now = x.now.Add(searchAfterBlackHole)
	x.settle(t)
	if got := p.pmtu.current; got <= mtu-searchPrecision || got > mtu {
		t.Errorf("the search after the black hole found %d, want within %d under %d", got, searchPrecision, mtu)
	}
}

// A peer that takes nothing over the base size (an older udpchat, a relay)
// never acknowledges a probe: packets stay at the base size, and nothing
// counts as lost but the probes.
func TestPathMTUOlderPeerStaysAtBase(t *testing.T) {
	x := newBenchMTU(t, false, wire.MaxDatagram)
	for name, p := range map[string]*peer{"A": x.peerA(), "B": x.peerB()} {
		if p.pmtu.current > p.pmtu.base+searchPrecision || p.stats.PacketsLost != 0 {
			t.Errorf("%s: path MTU %d, %d packets lost; want about the base %d, none", name, p.pmtu.current, p.stats.PacketsLost, p.pmtu.base)
		}
	}
}

// Datagrams up to wire.MaxPathDatagram are taken; one more is dropped and
// counted, unread.
func TestPathMTUReceiveLimit(t *testing.T) {
	x := newBench(t, false)
	p := x.peerB()
	pn, _ := p.received.largest()
	for _, size := range []int{wire.MaxPathDatagram, wire.MaxPathDatagram + 1} {
		pn++
		b := wire.AppendHeader(nil, wire.Header{SrcEpoch: x.a.epoch, DstEpoch: x.b.epoch, PacketNumber: pn})
		x.b.handle(appendPingPaddedTo(b, size), addrA, x.now)
	}
	if got, _ := p.received.largest(); got != pn-1 || p.ackPending != 1 {
		t.Errorf("largest packet received %d, %d to acknowledge; want %d, 1: the one of %d bytes, not the one over",
			got, p.ackPending, pn-1, wire.MaxPathDatagram)
	}
	if s := x.b.Stats(); s.Drops[DropTooBig] != 1 {
		t.Errorf("drops %+v, want one too big", s.Drops)
	}
}
