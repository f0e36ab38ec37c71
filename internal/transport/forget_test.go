package transport

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// tally is a Conn that counts the datagrams written to each address.
type tally struct {
	udp.Conn
	mu sync.Mutex
	to map[netip.AddrPort]int
}

func (c *tally) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	if c.to == nil {
		c.to = map[netip.AddrPort]int{}
	}
	c.to[addr]++
	c.mu.Unlock()
	return c.Conn.WriteTo(b, addr)
}

func (c *tally) count(addrs []netip.AddrPort) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range addrs {
		n += c.to[a]
	}
	return n
}

// strangers starts n endpoints at 10.9.x.y that each send A one message
// and then go silent for good (their cables cut), as a flood of contacts
// would. It returns their addresses and a function that closes them.
func strangers(t *testing.T, mn *udptest.MemNetwork, n int, to netip.AddrPort, ra *transporttest.Recorder) ([]netip.AddrPort, func()) {
	t.Helper()
	var addrs []netip.AddrPort
	var eps []*Endpoint
	var cables []*cable
	for i := range n {
		addr := netip.MustParseAddrPort(fmt.Sprintf("10.9.%d.%d:7475", i/200, i%200+1))
		c := &cable{Conn: listen(t, mn, addr)}
		e := start(t, c, transporttest.NewRecorder(), Config{})
		if _, err := e.Send(to, []byte("hello from a stranger")); err != nil {
			t.Fatal(err)
		}
		addrs, eps, cables = append(addrs, addr), append(eps, e), append(cables, c)
	}
	ra.WaitFor(t, "a message from every stranger", time.Hour, func() bool {
		for _, a := range addrs {
			if ra.Count(a) == 0 {
				return false
			}
		}
		return true
	})
	for _, c := range cables {
		c.cut.Store(true)
	}
	return addrs, func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, e := range eps {
			e.Close(ctx)
		}
	}
}

// Peers that contacted us and went silent are forgotten after ForgetAfter:
// their state goes, and so do the keepalives we sent them; a peer we
// pinned (Connect) stays, though it is as silent.
func TestSilentStrangersAreForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		ra := transporttest.NewRecorder()
		ca := &tally{Conn: listen(t, mn, addrA)}
		a := start(t, ca, ra, Config{})
		defer closeNow(a)
		if err := a.Connect(addrB); err != nil { // nothing listens there
			t.Fatal(err)
		}

		addrs, closeStrangers := strangers(t, mn, 50, addrA, ra)
		defer closeStrangers()
		// Something queued for a stranger does not keep it either.
		if _, err := a.Send(addrs[0], []byte("for a stranger")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(61 * time.Second) // ForgetAfter, virtual time
		synctest.Wait()
		for _, s := range addrs {
			if !ra.HasEvent("gone " + s.String()) {
				t.Fatalf("%s not forgotten a minute after it went silent: %v", s, ra.Events())
			}
		}
		if ra.HasEvent("gone " + addrB.String()) {
			t.Fatal("the pinned peer was forgotten")
		}
		stats, err := a.PeerStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 || stats[0].Addr != addrB {
			t.Fatalf("peer table after the strangers left: %+v, want only %s", stats, addrB)
		}
		if s := a.Stats(); s.Forgotten != 50 || s.Evicted != 0 {
			t.Fatalf("stats: %d forgotten, %d evicted; want 50, 0", s.Forgotten, s.Evicted)
		}
		before := ca.count(addrs)
		time.Sleep(10 * time.Minute)
		if after := ca.count(addrs); after != before {
			t.Fatalf("%d datagrams went to forgotten peers in 10 minutes", after-before)
		}
	})
}

// A full table makes room for a newcomer by evicting the peer silent
// longest, never a pinned one nor one heard from within EvictAfter.
func TestFullTableEvictsTheLongestSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		ra := transporttest.NewRecorder()
		a := start(t, listen(t, mn, addrA), ra, Config{MaxPeers: 9})
		defer closeNow(a)
		if err := a.Connect(addrB); err != nil { // pinned, and silent: nothing listens there
			t.Fatal(err)
		}
		addrs, closeStrangers := strangers(t, mn, 8, addrA, ra)
		defer closeStrangers()

		// A newcomer right away finds every stranger heard within
		// EvictAfter: it is refused.
		c := &cable{Conn: listen(t, mn, netip.MustParseAddrPort("10.8.0.1:7475"))}
		rc := transporttest.NewRecorder()
		newcomer := start(t, c, rc, Config{})
		defer closeNow(newcomer)
		ref, err := newcomer.Send(addrA, []byte("let me in"))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if ra.Count(c.LocalAddr()) != 0 {
			t.Fatal("a newcomer evicted peers heard from just now")
		}
		start := time.Now()
		rc.WaitFor(t, "the newcomer's message delivered", time.Hour, delivered(rc, []uint64{ref}))
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("the newcomer got in after %v; want within seconds", d)
		}
		gone := 0
		for _, s := range addrs {
			if ra.HasEvent("gone " + s.String()) {
				gone++
			}
		}
		if gone != 1 {
			t.Fatalf("%d strangers evicted, want one (all were silent as long): %v", gone, ra.Events())
		}
		if ra.HasEvent("gone " + addrB.String()) {
			t.Fatal("the pinned peer was evicted")
		}
		if s := a.Stats(); s.Evicted != 1 {
			t.Fatalf("%d evicted, want 1", s.Evicted)
		}
	})
}

// A peer we forgot and that still has a session with us (it was only
// silent) meets a new incarnation of us when it writes again, and sends
// everything we had not consumed afresh: nothing waits for ever on
// messages our forgotten state had numbered.
func TestForgottenPeerStartsAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		a := start(t, listen(t, mn, addrA), ra, Config{})
		defer closeNow(a)
		b := start(t, listen(t, mn, addrB), rb, Config{})
		defer closeNow(b)

		rb.WaitFor(t, "the first ten", time.Hour, delivered(rb, sendAll(t, b, addrA, 1, 0, 10)))
		if err := a.Forget(addrB); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		refs := sendAll(t, b, addrA, 1, 10, 20)
		rb.WaitFor(t, "the next ten, after A forgot B", time.Hour, delivered(rb, refs))
		transporttest.CheckStream(t, ra.Received(addrB), 1, 20, sizeOf)
	})
}
