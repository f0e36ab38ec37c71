package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
)

// pathMTUSlack is how far under the path's size a finished search may end
// (the transport's search precision).
const pathMTUSlack = 20

// statsOf is c's numbers for its one peer.
func statsOf(t *testing.T, c *chatter) link.PeerStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := c.ep.PeerStats(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("peer stats: %v, %v", ps, err)
	}
	return ps[0]
}

// checkPathMTU exchanges messages between a and b (some of 256 KiB), then
// checks that each side's packets grew to want, less at most pathMTUSlack,
// and that nothing was lost or sent again on the way: a probe larger than
// the path is neither.
func checkPathMTU(t *testing.T, a, b *chatter, want int) {
	t.Helper()
	exchange(t, a, b, 300, time.Minute)
	for name, c := range map[string]*chatter{"A": a, "B": b} {
		s := statsOf(t, c)
		t.Logf("%s: packets up to %d bytes, %d probes lost, %d black holes; %d packets sent, %d lost, %d retransmits",
			name, s.MaxPacket, s.ProbesLost, s.BlackHoles, s.PacketsSent, s.PacketsLost, s.Retransmits)
		if s.MaxPacket > want || s.MaxPacket < want-pathMTUSlack {
			t.Errorf("%s: packets up to %d bytes, want %d (less up to %d)", name, s.MaxPacket, want, pathMTUSlack)
		}
		if s.PacketsLost != 0 || s.Retransmits != 0 || s.BlackHoles != 0 {
			t.Errorf("%s: %d packets lost, %d retransmits, %d black holes on a clean path; want none", name, s.PacketsLost, s.Retransmits, s.BlackHoles)
		}
	}
}

// On loopback (MTU 65536) encrypted packets grow to the most udpchat sends,
// a datagram of wire.MaxPathDatagram, and a clean run sends nothing again.
func TestPathMTULoopback(t *testing.T) {
	listen := func() udp.Conn {
		c, err := udp.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := newChatter(t, listen(), secure.Config{Static: securetest.MustKey(t)})
	b := newChatter(t, listen(), secure.Config{Static: securetest.MustKey(t)})
	defer a.close()
	defer b.close()
	checkPathMTU(t, a, b, secure.MaxPathPacket)
}
