package integration_test

import (
	"net/netip"
	"strconv"
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
	nsA, nsB := vethPair(t, "udpc-roam", "10.199.76", 0)
	innerA, innerB := listenIn(t, nsA, "0.0.0.0:0"), listenIn(t, nsB, "10.199.76.2:0")
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
	nsA.IP(t, "addr", "flush", "dev", "veth-a")
	nsA.IP(t, "addr", "add", addrA2.Addr().String()+"/24", "dev", "veth-a")
	s.queue(t, 200)
	s.wait(t, time.Minute)
	checkFollowed(t, a, b, addrA2, before)
}

// vethPair is two namespaces, named after prefix, joined by a veth pair of
// the given MTU (0: the default): veth-a with address net.1 in the first,
// veth-b with net.2 in the second.
func vethPair(t *testing.T, prefix, net string, mtu int) (a, b *testenv.Namespace) {
	t.Helper()
	a, b = testenv.NewNamespace(t, prefix+"-a"), testenv.NewNamespace(t, prefix+"-b")
	devA, devB := "veth-a", "veth-b"
	link := []string{"link", "add", devA}
	if mtu > 0 {
		link = append(link, "mtu", strconv.Itoa(mtu))
	}
	link = append(link, "type", "veth", "peer", "name", devB)
	if mtu > 0 {
		link = append(link, "mtu", strconv.Itoa(mtu))
	}
	a.IP(t, append(link, "netns", b.Name)...)
	a.IP(t, "addr", "add", net+".1/24", "dev", devA)
	b.IP(t, "addr", "add", net+".2/24", "dev", devB)
	a.IP(t, "link", "set", devA, "up")
	b.IP(t, "link", "set", devB, "up")
	return a, b
}

// listenIn is a socket on addr in ns.
func listenIn(t *testing.T, ns *testenv.Namespace, addr string) udp.Conn {
	t.Helper()
	var c udp.Conn
	var err error
	ns.Do(t, func() { c, err = udp.Listen(addr) })
	if err != nil {
		t.Fatal(err)
	}
	return c
}
