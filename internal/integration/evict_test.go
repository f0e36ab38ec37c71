package integration_test

import (
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// A table full of handshakes that were never followed by anything makes
// room for a newcomer once they have been silent a second, instead of
// refusing new contacts until the sessions expire (issue 16, item 5).
func TestFullTableMakesRoomForANewcomer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		const max = 8
		a := newChatter(t, securetest.Listen(t, mn, addrA), secure.Config{Static: securetest.MustKey(t), MaxPeers: max})
		defer a.close()
		var conns []udp.Conn
		var readers []*securetest.Reader
		for i := range max {
			c := securetest.NewConn(t, secure.NewConn, securetest.Listen(t, mn, netip.MustParseAddrPort(fmt.Sprintf("10.7.0.%d:7475", i+1))), secure.Config{Static: securetest.MustKey(t)})
			r := securetest.StartReader(c)
			// Not a transport packet: A's transport drops it, so all
			// that is left of this peer is its session.
			if _, err := c.WriteTo([]byte("only a handshake"), addrA); err != nil {
				t.Fatal(err)
			}
			conns, readers = append(conns, c), append(readers, r)
		}
		defer securetest.CloseAll(t, conns, readers...)
		synctest.Wait()
		if s := a.sec.Stats(); s.Peers != max {
			t.Fatalf("%d peers after %d handshakes, want a full table", s.Peers, max)
		}

		time.Sleep(2 * time.Second)
		b := newChatter(t, securetest.Listen(t, mn, addrB), secure.Config{Static: securetest.MustKey(t)})
		defer b.close()
		start := time.Now()
		exchange(t, a, b, 5, time.Minute)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the newcomer needed %v", d)
		}
		if s := a.sec.Stats(); s.Peers != max || s.Evicted != 1 {
			t.Errorf("after the newcomer: %d peers, %d evicted; want %d, 1", s.Peers, s.Evicted, max)
		}
	})
}

// When the transport forgets a peer, the secure layer forgets it too; if
// the peer was only silent and writes again, a new handshake carries on,
// and nothing it sent is lost.
func TestForgottenByTheTransportIsForgottenBelow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		a := newChatter(t, securetest.Listen(t, mn, addrA), secure.Config{Static: securetest.MustKey(t)})
		defer a.close()
		b := newChatter(t, securetest.Listen(t, mn, addrB), secure.Config{Static: securetest.MustKey(t)})
		defer b.close()
		exchange(t, a, b, 5, time.Minute)
		if err := a.ep.Forget(addrB); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := a.sec.Stats(); s.Peers != 0 || s.Forgotten != 1 {
			t.Fatalf("secure layer after the transport forgot B: %d peers, %d forgotten; want 0, 1", s.Peers, s.Forgotten)
		}
		var refs []uint64
		for i := range 5 {
			ref, err := b.ep.Send(a.addr, transporttest.Message(3, i, sizeOf(i)))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		b.rec.WaitFor(t, "B's messages after A forgot it, delivered", time.Minute, func() bool { return b.rec.AllDelivered(refs) })
		transporttest.CheckStream(t, a.rec.Received(b.addr)[5:], 3, 5, sizeOf)
	})
}
