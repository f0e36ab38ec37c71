package integration_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
)

// TestRoamNamespace is TestRoamMidStream on real sockets: A and B in
// network namespaces of their own, joined by a veth pair, A's socket bound
// to 0.0.0.0. Mid-stream A's interface loses its address and gets another
// (ip addr flush, ip addr add), so the kernel sends A's datagrams from the
// new one; B follows with no new handshake, and every message arrives once.
func TestRoamNamespace(t *testing.T) {
	nsA := testenv.NewNamespace(t, "udpc-roam-a")
	nsB := testenv.NewNamespace(t, "udpc-roam-b")
	nsA.IP(t, "link", "add", "roam0", "type", "veth", "peer", "name", "roam1", "netns", nsB.Name)
	nsA.IP(t, "addr", "add", "10.199.76.1/24", "dev", "roam0")
	nsB.IP(t, "addr", "add", "10.199.76.2/24", "dev", "roam1")
	nsA.IP(t, "link", "set", "roam0", "up")
	nsB.IP(t, "link", "set", "roam1", "up")

	listen := func(ns *testenv.Namespace, addr string) udp.Conn {
		t.Helper()
		var c udp.Conn
		var err error
		ns.Do(t, func() { c, err = udp.Listen(addr) })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	innerA, innerB := listen(nsA, "0.0.0.0:0"), listen(nsB, "10.199.76.2:0")
	a := newChatter(t, innerA, secure.Config{Static: securetest.MustKey(t)})
	b := newChatter(t, innerB, secure.Config{Static: securetest.MustKey(t)})
	defer a.close()
	defer b.close()
	// How B knows A: the address A's datagrams come from, its handle.
	a.addr = netip.AddrPortFrom(netip.MustParseAddr("10.199.76.1"), innerA.LocalAddr().Port())
	addrA2 := netip.AddrPortFrom(netip.MustParseAddr("10.199.76.99"), a.addr.Port())

	s := streams{a: a, b: b}
	s.queue(t, 200)
	b.rec.WaitFor(t, "the first of A's messages at B", time.Minute, func() bool { return b.rec.Count(a.addr) >= 100 })
	before := handshakesOf(a, b)
	nsA.IP(t, "addr", "flush", "dev", "roam0")
	nsA.IP(t, "addr", "add", addrA2.Addr().String()+"/24", "dev", "roam0")
	s.queue(t, 200)
	s.wait(t, time.Minute)
	checkFollowed(t, a, b, addrA2, before)
}
