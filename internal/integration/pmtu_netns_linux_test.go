package integration_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
)

// TestPathMTUNamespace: A and B in network namespaces of their own, joined
// by a veth pair of a given MTU. Each side's packets grow to what the link
// carries — the MTU less the IPv4 and UDP headers and the encryption — and
// no further: the sockets set Don't Fragment, so a larger probe is refused
// rather than fragmented, and counts as a lost probe, not a lost packet.
func TestPathMTUNamespace(t *testing.T) {
	for _, mtu := range []int{1400, 9000} {
		t.Run(fmt.Sprint("mtu", mtu), func(t *testing.T) {
			nsA := testenv.NewNamespace(t, "udpc-pmtu-a")
			nsB := testenv.NewNamespace(t, "udpc-pmtu-b")
			nsA.IP(t, "link", "add", "pmtu0", "mtu", fmt.Sprint(mtu), "type", "veth", "peer", "name", "pmtu1", "mtu", fmt.Sprint(mtu), "netns", nsB.Name)
			nsA.IP(t, "addr", "add", "10.199.77.1/24", "dev", "pmtu0")
			nsB.IP(t, "addr", "add", "10.199.77.2/24", "dev", "pmtu1")
			nsA.IP(t, "link", "set", "pmtu0", "up")
			nsB.IP(t, "link", "set", "pmtu1", "up")
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
			a := newChatter(t, listen(nsA, "10.199.77.1:0"), secure.Config{Static: securetest.MustKey(t)})
			b := newChatter(t, listen(nsB, "10.199.77.2:0"), secure.Config{Static: securetest.MustKey(t)})
			defer a.close()
			defer b.close()
			if a.addr.Addr() != netip.MustParseAddr("10.199.77.1") {
				t.Fatalf("A listens on %v", a.addr)
			}
			checkPathMTU(t, a, b, mtu-20-8-secure.Overhead)
		})
	}
}
